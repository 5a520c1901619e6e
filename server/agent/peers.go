package agent

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
)

// The agent's view of the other servers, a registry fed by their heartbeats:
// whom to ask for a relay (Candidates, the API's own choice of a server), and
// who died (a relay of our rooms, or the owner of rooms we relay), which
// Params.OnServerLost hears once per death.

func (a *Agent) onHeartbeat(env bus.Envelope) {
	var hb cluster.Heartbeat
	if err := json.Unmarshal(env.Body, &hb); err != nil || hb.Server == "" || hb.Server != env.From {
		return
	}
	if hb.Server == a.p.ServerID {
		// Our own heartbeat back: the broker carries it to the API as well.
		now := time.Now()
		a.lease.renew(hb.SentAt, now)
		a.ownBeats.heard(now)
		return
	}
	if a.reg.Observe(hb, time.Now()).BeganDraining && a.p.OnServerDraining != nil {
		a.log.Info("server draining: its relays of our rooms empty", "draining", hb.Server)
		go a.p.OnServerDraining(hb.Server)
	}
}

// Seen marks a server alive now (it just spoke to us), so that its silence
// from here on is noticed even before its first heartbeat reached us.
func (a *Agent) Seen(id cluster.ServerID) {
	if id == "" || id == a.p.ServerID {
		return
	}
	a.reg.Seen(id, time.Now())
}

// Alive reports whether a server was heard from within dead_after.
func (a *Agent) Alive(id cluster.ServerID) bool { return a.reg.Heard(id, time.Now()) }

// Draining reports whether a server's latest heartbeat says it drains.
func (a *Agent) Draining(id cluster.ServerID) bool { return a.reg.Draining(id) }

// Candidates are the other servers a relay may be asked of, in the order
// to ask them: heard within dead_after, not draining, below highWater with
// the relays placed since their heartbeat counted (Placed); least stressed
// first.
func (a *Agent) Candidates(highWater float64) []cluster.ServerID {
	now := time.Now()
	servers := slices.DeleteFunc(a.reg.Snapshot(), func(s registry.Server) bool { return now.Sub(s.LastSeen) > a.p.DeadAfter })
	return registry.Candidates(servers, highWater, a.p.ServerID)
}

// TURN is the TURN URLs another server's latest heartbeat advertised
// (none when it runs no TURN server or was not heard from).
func (a *Agent) TURN(id cluster.ServerID) []string {
	s, ok := a.reg.Get(id)
	if !ok || s.Dead {
		return nil
	}
	return s.Heartbeat.TURN
}

// Placed counts a relay placed on id until its next heartbeat shows it.
func (a *Agent) Placed(id cluster.ServerID) { a.reg.Placed(id) }

// reapServers forgets the servers silent for dead_after and tells
// OnServerLost about each — while this server's own heartbeats come back
// through the broker; their silence during an outage of its own is excused.
func (a *Agent) reapServers() {
	now := time.Now()
	up, outage := a.ownBeats.check(now)
	if !up {
		return
	}
	if outage > 0 {
		a.reg.ExcuseFor(now, outage)
		a.log.Info("our heartbeats come back again: the others' silence meanwhile is not counted", "outage", outage.Round(time.Millisecond))
	}
	lost := a.reg.Reap(now)
	for _, id := range lost {
		a.reg.Forget(id)
	}
	for _, id := range lost {
		a.log.Warn("server silent past dead_after: dropping what links us to it", "lost", id)
		if a.p.OnServerLost != nil {
			a.p.OnServerLost(id)
		}
	}
}
