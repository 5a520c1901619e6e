package service

import (
	"context"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// failoverLoop declares dead the servers silent past cluster.dead_after and
// re-homes their rooms.
func (o *Orchestrator) failoverLoop() {
	defer o.wg.Done()
	tk := time.NewTicker(max(o.p.Heartbeat/4, 50*time.Millisecond))
	defer tk.Stop()
	health, _ := o.p.Bus.(bus.Health)
	var seen uint64
	if health != nil {
		seen = health.Reconnects()
	}
	for {
		select {
		case <-o.stop:
			return
		case <-tk.C:
		}
		if health != nil {
			// Heartbeats missed while the API itself was cut off from
			// RabbitMQ say nothing about the servers: declaring them dead
			// would re-home every room of the cluster at each broker restart.
			if !health.Connected() {
				continue
			}
			if n := health.Reconnects(); n != seen {
				seen = n
				o.reg.Excuse(time.Now())
				o.log.Info("back on the bus: servers get dead_after to be heard again")
				continue
			}
		}
		for _, id := range o.reg.Reap(time.Now()) {
			o.log.Warn("server declared dead; re-homing its rooms", "server", id, "silent_for", o.p.DeadAfter)
			o.rehomeServer(id)
		}
	}
}

// rehomeServer moves every room of a dead server to live ones.
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
		if _, err := o.rehome(ctx, r.Name, dead); err != nil {
			o.log.Error("room not re-homed", "room", r.Name, "from", dead, "err", err)
		}
	}
}

// rehome places a room whose server is dead on a live one and moves it in the
// directory (only if it is still on the dead one).
func (o *Orchestrator) rehome(ctx context.Context, room string, from cluster.ServerID) (cluster.RoomInfo, error) {
	defer o.rooms.lockRehome(room)()
	if cur, err := o.p.Directory.Get(ctx, room); err == nil && cur.Server != from && o.reg.Live(cur.Server) {
		return o.info(cur), nil // someone moved it meanwhile
	}
	defer o.rooms.markPlacing(room)()
	info, err := o.place(ctx, room, from)
	if err != nil {
		return cluster.RoomInfo{}, err
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
