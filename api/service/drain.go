package service

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
)

// Drain tells a server to drain (deadline 0: its drain.deadline): it takes
// nothing new, the move loop moves its rooms away (moveAway), and it exits
// when empty or at the deadline.
func (o *Orchestrator) Drain(ctx context.Context, id cluster.ServerID, deadline time.Duration) (cluster.DrainAnswer, error) {
	srv, known := o.reg.Get(id)
	switch {
	case !known:
		return cluster.DrainAnswer{}, refuse(ErrServerUnknown, "no server %s in the registry", id)
	case srv.Dead:
		return cluster.DrainAnswer{}, refuse(ErrServerDead, "server %s is dead", id)
	}
	if err := o.busDown(); err != nil {
		return cluster.DrainAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.p.CreateTimeout)
	defer cancel()
	res, err := bus.Drain.Call(ctx, o.p.Bus, bus.ToServer(id), ID, "", cluster.DrainRequest{Deadline: deadline})
	if err != nil {
		return cluster.DrainAnswer{}, refuse(ErrNoAnswer, "server %s did not answer the drain: %v", id, err)
	}
	o.reg.MarkDraining(id)
	o.log.Info("server draining", "server", id, "until", res.Until, "peers", res.Peers)
	o.wakeMover()
	return res, nil
}

// wakeMover makes moveLoop look at the servers now, not at its next tick.
func (o *Orchestrator) wakeMover() {
	select {
	case o.moveNow <- struct{}{}:
	default:
	}
}

// moveLoop moves rooms off draining servers and, with cluster.rebalance,
// off servers above high water, as heartbeats show them; it also drops the
// per-room state whose cooldown has passed.
func (o *Orchestrator) moveLoop() {
	defer o.wg.Done()
	tk := time.NewTicker(max(o.p.Heartbeat/2, 100*time.Millisecond))
	defer tk.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-tk.C:
		case <-o.moveNow:
		}
		o.rooms.sweep(time.Now())
		for _, srv := range o.reg.Snapshot() {
			switch {
			case srv.Dead:
			case srv.Draining:
				o.moveAway(srv)
			case o.p.Rebalance && srv.Stress > o.p.HighWater:
				o.rebalance(srv)
			}
		}
	}
}

// moveAway moves every room the directory has on a draining server to the
// freest server it fits on; a room with nowhere to go stays until a later
// try, or the drain's deadline.
func (o *Orchestrator) moveAway(srv registry.Server) {
	ctx, cancel := context.WithTimeout(o.life, 4*o.p.CreateTimeout)
	defer cancel()
	rooms, err := o.p.Directory.List(ctx, srv.Server)
	if err != nil {
		o.log.Error("cannot list a draining server's rooms", "server", srv.Server, "err", err)
		return
	}
	for _, r := range rooms {
		if ctx.Err() != nil {
			return
		}
		if o.rooms.isPlacing(r.Name) || !o.rooms.retryDue(r.Name, o.p.Heartbeat, time.Now()) {
			continue
		}
		if _, err := o.Move(ctx, r, "", "drain"); err != nil {
			// Said once per room and drain; the tries go on quietly.
			level := slog.LevelDebug
			if o.rooms.stuckOnce(r.Name) {
				level = slog.LevelWarn
			}
			o.log.Log(ctx, level, "room of a draining server not moved yet; trying again", "room", r.Name, "server", srv.Server, "err", err)
			continue
		}
		o.rooms.unstuck(r.Name)
	}
}

// rebalance moves one room off a server above high water: the largest that
// fits whole on another server with cluster.move_margin to spare and has not
// moved within cluster.rebalance_cooldown. One per server per look: the next
// heartbeat shows what it relieved, and until one sent after the move has
// come the server is not looked at again (a move wakes the loop at once,
// and a loaded server's heartbeats come late: two rooms went 23 ms apart on
// the view of one heartbeat).
func (o *Orchestrator) rebalance(srv registry.Server) {
	if o.rooms.gaveUpAfter(srv.Server, srv.Heartbeat.SentAt) {
		return
	}
	names := make([]string, 0, len(srv.RoomLoads))
	for name := range srv.RoomLoads {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return srv.RoomLoads[b] - srv.RoomLoads[a] })
	all := o.reg.Snapshot()
	ctx, cancel := context.WithTimeout(o.life, 2*o.p.CreateTimeout)
	defer cancel()
	for _, name := range names {
		if o.rooms.isPlacing(name) || o.rooms.cooling(name, o.p.RebalanceCooldown, time.Now()) {
			continue
		}
		if _, ok := registry.MoveTarget(all, srv.Server, srv.RoomLoads[name], o.p.MoveMargin); !ok {
			continue
		}
		r, err := o.p.Directory.Get(ctx, name)
		if err != nil || r.Server != srv.Server {
			continue
		}
		o.rooms.markMoved(name, time.Now())
		if _, err := o.Move(ctx, r, "", "rebalance"); err != nil {
			o.log.Warn("rebalance move failed", "room", name, "server", srv.Server, "err", err)
		}
		return
	}
}
