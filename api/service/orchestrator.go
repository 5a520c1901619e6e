package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
	"github.com/voicectl/voicectl/server/wire"
)

// Orchestrator decides where rooms live: it places new rooms (place.go),
// re-homes the rooms of dead servers (rehome.go), moves rooms on request
// (move.go) and off draining or overloaded servers (drain.go), from the
// registry its heartbeats feed. It knows nothing of HTTP: its refusals are
// the typed errors of errors.go.
type Orchestrator struct {
	p   Params
	log *slog.Logger
	reg *registry.Registry
	m   *metrics
	sub bus.Subscription

	stop chan struct{}
	// life ends with Stop: background moves give up with it.
	life    context.Context
	endLife context.CancelFunc
	wg      sync.WaitGroup
	// rooms is the per-room state of re-homes and moves, dropped once
	// settled.
	rooms   *roomStates
	moveNow chan struct{}
	// watch tells the API's own bus outage from the servers' silence.
	watch  *busWatch
	probes *prometheus.CounterVec
}

func newOrchestrator(p Params, reg *registry.Registry, m *metrics) *Orchestrator {
	o := &Orchestrator{p: p, log: p.Logger, reg: reg, m: m, stop: make(chan struct{}), moveNow: make(chan struct{}, 1),
		rooms: newRoomStates(max(p.Heartbeat, p.RebalanceCooldown)), watch: newBusWatch(p.Heartbeat),
		probes: newProbeResults(p.Registerer)}
	o.life, o.endLife = context.WithCancel(context.Background())
	return o
}

// Start subscribes to heartbeats and starts the failover and move loops.
func (o *Orchestrator) Start() error {
	sub, err := o.p.Bus.Subscribe("heartbeat.*", o.onHeartbeat)
	if err != nil {
		return err
	}
	o.sub = sub
	o.wg.Add(3)
	go o.beatLoop()
	go o.failoverLoop()
	go o.moveLoop()
	return nil
}

// Stop ends the loops and the subscription.
func (o *Orchestrator) Stop() {
	close(o.stop)
	o.endLife()
	o.wg.Wait()
	if o.sub != nil {
		_ = o.sub.Cancel()
	}
}

func (o *Orchestrator) onHeartbeat(e bus.Envelope) {
	if o.watch.heard(e, time.Now()) || e.Type != bus.TypeHeartbeat {
		return
	}
	var hb cluster.Heartbeat
	if err := json.Unmarshal(e.Body, &hb); err != nil || hb.Server == "" || hb.Server != e.From {
		o.m.badHeartbeats.Inc()
		return
	}
	seen := o.reg.Observe(hb, time.Now())
	if seen.Revived {
		o.log.Warn("a server declared dead is back", "server", hb.Server)
	}
	if seen.First && o.p.Probe != nil {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.checkProbe(hb.Server)
		}()
	}
	if hb.Draining && len(hb.Rooms) > 0 {
		o.wakeMover()
	}
	if len(hb.Rooms) > 0 {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.releaseMoved(hb)
		}()
	}
}

// releaseMoved tells a server to give up the rooms it still hosts that the
// directory has moved elsewhere (it came back after being declared dead), so
// no room is served from two hosts.
func (o *Orchestrator) releaseMoved(hb cluster.Heartbeat) {
	ctx, cancel := context.WithTimeout(o.life, o.p.CreateTimeout)
	defer cancel()
	for _, name := range hb.Rooms {
		// Only a room the directory has on another server is given up: one it
		// does not have yet may be a create whose answer is being recorded.
		r, err := o.p.Directory.Get(ctx, name)
		if err != nil || r.Server == hb.Server {
			continue
		}
		// Nor one that is being re-homed or moved to it: the new home takes
		// the room before the directory says so, and its heartbeat can come
		// in between.
		if o.rooms.isPlacing(name) || !o.reg.Live(r.Server) {
			continue
		}
		// Nor one it gave up after this heartbeat was sent: a move's old home
		// sends its peers on by itself.
		if o.rooms.sentBeforeGivingUp(name, hb.Server, hb.SentAt) {
			continue
		}
		reason := "moved"
		if _, err := bus.ReleaseRoom.Call(ctx, o.p.Bus, bus.ToServer(hb.Server), ID, "", cluster.RoomRef{Room: name, Reason: reason}); err != nil {
			o.log.Warn("could not make a server give up a moved room", "server", hb.Server, "room", name, "err", err)
			continue
		}
		o.log.Info("server gave up a room the directory has elsewhere", "server", hb.Server, "room", name, "reason", reason)
	}
}

// Delete closes a room on its server (when live) and drops it from the
// directory and from the orchestration's memory; it returns the peers the
// room had.
func (o *Orchestrator) Delete(ctx context.Context, room directory.Room) (peers int, err error) {
	if o.reg.Live(room.Server) {
		if err := o.busDown(); err != nil {
			return 0, err
		}
		res, err := bus.CloseRoom.Call(ctx, o.p.Bus, bus.ToServer(room.Server), ID, "", cluster.RoomRef{Room: room.Name})
		if err != nil {
			return 0, fmt.Errorf("closing the room on server %s: %w", room.Server, err)
		}
		peers = res.Peers
	}
	if err := o.p.Directory.Delete(ctx, room.Name); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return 0, err
	}
	o.rooms.forget(room.Name)
	return peers, nil
}

// Peers is a room with its peers and their connection quality, from its
// server over the bus (bus.RoomPeers), as that server's admin API has it.
// The bus, not the server's admin API: the API holds no server's admin key,
// the registry knows servers by their signalling URL only, and the bus
// already carries the API's other commands to a server, with their
// timeouts and stable error codes.
func (o *Orchestrator) Peers(ctx context.Context, room directory.Room) (wire.AdminRoomDetail, error) {
	if !o.reg.Live(room.Server) {
		return wire.AdminRoomDetail{}, &refusal{kind: ErrServerDead, msg: fmt.Sprintf("room %s is on server %s, which is not live", room.Name, room.Server)}
	}
	if err := o.busDown(); err != nil {
		return wire.AdminRoomDetail{}, err
	}
	d, err := bus.RoomPeers.Call(ctx, o.p.Bus, bus.ToServer(room.Server), ID, "", cluster.RoomRef{Room: room.Name})
	if err != nil {
		return wire.AdminRoomDetail{}, fmt.Errorf("%w: server %s: %v", ErrNoAnswer, room.Server, err)
	}
	return d, nil
}

// info is a directory entry with its server's signalling URL.
func (o *Orchestrator) info(r directory.Room) cluster.RoomInfo {
	srv, _ := o.reg.Get(r.Server)
	return cluster.RoomInfo{Room: r.Name, Server: r.Server, SignalURL: srv.SignalURL}
}
