package agent

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// The agent's view of the other servers, from their heartbeats: whom to ask
// for a relay, and who died (a relay of our rooms, or the owner of rooms we
// relay), which Params.OnServerLost hears once per death.

type seenServer struct {
	hb cluster.Heartbeat
	at time.Time
}

func (a *Agent) onHeartbeat(env bus.Envelope) {
	var hb cluster.Heartbeat
	if err := json.Unmarshal(env.Body, &hb); err != nil || hb.Server == "" || hb.Server == a.p.ServerID || hb.Server != env.From {
		return
	}
	a.mu.Lock()
	began := hb.Draining && !a.servers[hb.Server].hb.Draining
	a.servers[hb.Server] = seenServer{hb: hb, at: time.Now()}
	a.mu.Unlock()
	if began && a.p.OnServerDraining != nil {
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
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.servers[id]
	s.at = time.Now()
	if s.hb.Server == "" {
		s.hb = cluster.Heartbeat{Server: id, Stress: 1}
	}
	a.servers[id] = s
}

// Alive reports whether a server was heard from within dead_after.
func (a *Agent) Alive(id cluster.ServerID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.servers[id]
	return ok && time.Since(s.at) <= a.p.DeadAfter
}

// Draining reports whether a server's latest heartbeat says it drains.
func (a *Agent) Draining(id cluster.ServerID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.servers[id].hb.Draining
}

// Servers are the other live servers' latest heartbeats, least stressed first.
func (a *Agent) Servers() []cluster.Heartbeat {
	a.mu.Lock()
	out := make([]cluster.Heartbeat, 0, len(a.servers))
	for _, s := range a.servers {
		if time.Since(s.at) <= a.p.DeadAfter && s.hb.SentAt.After(time.Time{}) {
			out = append(out, s.hb)
		}
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y cluster.Heartbeat) int {
		switch {
		case x.Stress < y.Stress:
			return -1
		case x.Stress > y.Stress:
			return 1
		}
		return cmp.Compare(x.Server, y.Server)
	})
	return out
}

// reapServers forgets the servers silent for dead_after and tells
// OnServerLost about each.
func (a *Agent) reapServers() {
	var lost []cluster.ServerID
	a.mu.Lock()
	for id, s := range a.servers {
		if time.Since(s.at) > a.p.DeadAfter {
			delete(a.servers, id)
			lost = append(lost, id)
		}
	}
	a.mu.Unlock()
	slices.Sort(lost)
	for _, id := range lost {
		a.log.Warn("server silent past dead_after: dropping what links us to it", "lost", id)
		if a.p.OnServerLost != nil {
			a.p.OnServerLost(id)
		}
	}
}
