package service

import (
	"context"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// failoverLoop declares dead the servers gone past cluster.dead_after and
// re-homes their rooms. Silence on the bus alone is no proof: a server
// silent for cluster.ProbeAfter is probed over HTTP (Params.Probe) every
// third of that while it stays silent; one that answers is alive off the bus
// (it keeps its rooms, and the probe renews its lease), and one that does
// not is declared dead only past dead_after and only while the API's own
// beats come back over the bus (busWatch): a broker that is down or frozen
// declares nobody dead.
func (o *Orchestrator) failoverLoop() {
	defer o.wg.Done()
	tk := time.NewTicker(max(o.p.Heartbeat/4, 50*time.Millisecond))
	defer tk.Stop()
	probeAfter := cluster.ProbeAfter(o.p.Heartbeat, o.p.DeadAfter)
	probeEvery := max(probeAfter/3, 50*time.Millisecond)
	probed := map[cluster.ServerID]time.Time{}
	health, _ := o.p.Bus.(bus.Health)
	var seen uint64
	if health != nil {
		seen = health.Reconnects()
	}
	outage := false
	var outageFrom time.Time // when the API last heard its own beat before the outage
	for {
		select {
		case <-o.stop:
			return
		case <-tk.C:
		}
		now := time.Now()
		up := o.watch.up(now) && (health == nil || health.Connected())
		switch {
		case !up && !outage:
			outage, outageFrom = true, o.watch.lastBack()
			o.log.Warn("off the bus: no server is declared dead until the API's own beats come back")
		case up && outage:
			// Heartbeats missed while the API itself was cut off from the
			// broker say nothing about the servers: that stretch is not
			// counted against them (one heard until it began gets a full
			// dead_after). Only that stretch: a late own beat on a loaded
			// machine must not make a long-silent server new again.
			outage = false
			o.reg.ExcuseFor(now, now.Sub(outageFrom))
			o.log.Info("back on the bus: the servers' silence during the outage is not counted", "outage", now.Sub(outageFrom).Round(time.Millisecond))
			continue
		}
		if health != nil {
			if n := health.Reconnects(); n != seen {
				seen = n
				o.reg.Excuse(now)
				continue
			}
		}
		var due []cluster.ServerID
		for _, id := range o.reg.Silent(now, probeAfter) {
			if now.Sub(probed[id]) >= probeEvery {
				due = append(due, id)
				probed[id] = now
			}
		}
		for id, err := range o.probeAll(due) {
			if err == nil {
				o.probes.WithLabelValues("alive").Inc()
				o.reg.Vouch(id, now, time.Now())
				continue
			}
			o.probes.WithLabelValues("failed").Inc()
			o.log.Debug("silent server did not answer the probe", "server", id, "err", err)
			if outage || !o.watch.up(time.Now()) {
				continue
			}
			if o.reg.Declare(id, time.Now()) {
				delete(probed, id)
				o.log.Warn("server declared dead; re-homing its rooms", "server", id, "silent_for", o.p.DeadAfter, "probe", errString(err))
				o.wg.Add(1)
				go func() {
					defer o.wg.Done()
					o.rehomeServer(id)
				}()
			}
		}
	}
}

// errNoProbe answers a probe where none is configured.
var errNoProbe = &refusal{kind: ErrServerDead, msg: "no probe configured"}

// probeAll probes servers at once, each within a heartbeat (at least 500ms,
// at most 2s), and returns each one's answer.
func (o *Orchestrator) probeAll(ids []cluster.ServerID) map[cluster.ServerID]error {
	out := make(map[cluster.ServerID]error, len(ids))
	if len(ids) == 0 {
		return out
	}
	if o.p.Probe == nil {
		for _, id := range ids {
			out[id] = errNoProbe
		}
		return out
	}
	ctx, cancel := context.WithTimeout(o.life, min(max(o.p.Heartbeat, 500*time.Millisecond), 2*time.Second))
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		srv, ok := o.reg.Get(id)
		if !ok {
			continue
		}
		wg.Go(func() {
			err := o.p.Probe(ctx, srv)
			mu.Lock()
			out[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// rehomeServer moves every room of a dead server to live ones, room by room
// while the server stays dead.
func (o *Orchestrator) rehomeServer(dead cluster.ServerID) {
	ctx, cancel := context.WithTimeout(o.life, 4*o.p.CreateTimeout)
	defer cancel()
	rooms, err := o.p.Directory.List(ctx, dead)
	if err != nil {
		o.log.Error("cannot list a dead server's rooms", "server", dead, "err", err)
		o.serverDead(dead, nil)
		return
	}
	names := make([]string, 0, len(rooms))
	for _, r := range rooms {
		names = append(names, r.Name)
	}
	o.serverDead(dead, names)
	for _, r := range rooms {
		if o.reg.Live(dead) {
			o.log.Warn("server back before its rooms were re-homed: they stay", "server", dead)
			return
		}
		if _, err := o.rehome(ctx, r.Name, dead); err != nil {
			o.log.Error("room not re-homed", "room", r.Name, "from", dead, "err", err)
		}
	}
}

// rehome places a room whose server is dead on a live one and moves it in the
// directory (only if it is still on the dead one). The old home's state is
// checked again after every wait: a server back meanwhile (a heartbeat or an
// answered probe) keeps the room, and the new placement gives it up.
func (o *Orchestrator) rehome(ctx context.Context, room string, from cluster.ServerID) (cluster.RoomInfo, error) {
	defer o.rooms.lockRehome(room)()
	cur, err := o.p.Directory.Get(ctx, room)
	if err == nil && (cur.Server != from && o.reg.Live(cur.Server) || o.reg.Live(from)) {
		return o.info(cur), nil // someone moved it meanwhile, or its server is back
	}
	defer o.rooms.markPlacing(room)()
	info, err := o.place(ctx, room, from)
	if err != nil {
		return cluster.RoomInfo{}, err
	}
	if o.reg.Live(from) {
		o.abandon(ctx, room, info.Server)
		o.log.Warn("re-home abandoned: the room's server is back", "room", room, "server", from)
		cur, err := o.p.Directory.Get(ctx, room)
		if err != nil {
			return cluster.RoomInfo{}, err
		}
		return o.info(cur), nil
	}
	moved, err := o.p.Directory.Move(ctx, room, from, info.Server)
	if err != nil {
		return cluster.RoomInfo{}, err
	}
	if moved {
		o.m.rehomed.Inc()
		o.log.Info("room re-homed", "room", room, "from", from, "to", info.Server)
		o.roomMoved(room, from, info.Server)
	}
	return info, nil
}

// abandon has the server a re-home placed a room on give it up (nobody
// joined it there: the directory never named it).
func (o *Orchestrator) abandon(ctx context.Context, room string, on cluster.ServerID) {
	if _, err := bus.ReleaseRoom.Call(ctx, o.p.Bus, bus.ToServer(on), ID, "", cluster.RoomRef{Room: room, Reason: "moved"}); err != nil {
		o.log.Warn("could not make a server give up an abandoned re-home", "server", on, "room", room, "err", err)
	}
}
