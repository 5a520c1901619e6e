package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
)

// Move gives a room a new home (to, or the API's pick when empty): the new
// home takes the room first, the directory switches in one transaction, then
// the old home tells every peer to join the new one (a fresh token and its
// URL) and closes the room once they left or after cluster.move_grace. why
// labels the move in the metrics and logs (api, drain, rebalance).
func (o *Orchestrator) Move(ctx context.Context, room directory.Room, to cluster.ServerID, why string) (directory.Room, error) {
	// A target the request names wrongly is refused as such, broker or not;
	// what the heartbeats say of the others (dead, full) waits for the
	// broker, whose outage would leave them stale.
	if err := o.checkNamed(room, to); err != nil {
		return directory.Room{}, err
	}
	if err := o.busDown(); err != nil {
		return directory.Room{}, err
	}
	from := room.Server
	defer o.rooms.markPlacing(room.Name)()
	units := 0
	if old, ok := o.reg.Get(from); ok {
		units = old.RoomLoads[room.Name]
	}
	need := registry.Needs(units, o.p.MoveMargin)
	if to == "" {
		var ok bool
		to, ok = registry.MoveTarget(o.reg.Snapshot(), from, units, o.p.MoveMargin)
		if !ok {
			return directory.Room{}, refuse(ErrNoSpare, "no live server has %d load units spare for room %s (%d accounted, cluster.move_margin %.0f%%)",
				need, room.Name, units, 100*o.p.MoveMargin)
		}
	} else if err := o.checkTarget(room, to, units, need); err != nil {
		return directory.Room{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, o.p.CreateTimeout)
	info, err := bus.CreateRoom.Call(cctx, o.p.Bus, bus.ToServer(to), ID, "", cluster.RoomCreate{Room: room.Name})
	cancel()
	var be *bus.Error
	if errors.As(err, &be) && be.Code == bus.CodeNoCapacity {
		return directory.Room{}, refuse(ErrNoSpare, "server %s refused the room: %s", to, be.Message)
	}
	if err != nil {
		return directory.Room{}, fmt.Errorf("server %s did not take room %s: %w", to, room.Name, err)
	}
	o.reg.MovedIn(info.Server, units)
	moved, err := o.p.Directory.Move(ctx, room.Name, from, info.Server)
	if err != nil {
		return directory.Room{}, err
	}
	if !moved {
		return directory.Room{}, refuse(ErrMoveConflict, "room %s moved meanwhile; ask again", room.Name)
	}
	o.m.moves.WithLabelValues(why).Inc()
	o.roomMoved(room.Name, from, info.Server)
	peers := 0
	if o.reg.Live(from) {
		res, err := bus.MoveRoom.Call(ctx, o.p.Bus, bus.ToServer(from), ID, "", cluster.RoomMove{Room: room.Name, To: info.Server, SignalURL: info.SignalURL})
		if err != nil {
			// Its peers will find the room through the API when they
			// reconnect; the old server is told to give it up when its
			// heartbeat still lists it.
			o.log.Warn("old home not told of the move", "room", room.Name, "server", from, "err", err)
		} else if !res.At.IsZero() {
			o.rooms.markGaveUp(room.Name, from, res.At, time.Now())
		}
		peers = res.Peers
	}
	o.log.Info("room moved", "room", room.Name, "from", from, "to", info.Server, "peers", peers, "load_units", units, "why", why)
	return o.p.Directory.Get(ctx, room.Name)
}

// checkNamed refuses a move to a server the registry never heard of, or to
// the room's own server; an empty target (the API's pick) passes.
func (o *Orchestrator) checkNamed(room directory.Room, to cluster.ServerID) error {
	if to == "" {
		return nil
	}
	if _, known := o.reg.Get(to); !known {
		return refuse(ErrServerUnknown, "no server %s in the registry", to)
	}
	if to == room.Server {
		return refuse(ErrAlreadyThere, "room %s is on %s already", room.Name, to)
	}
	return nil
}

// checkTarget refuses a move to a server that cannot take the room.
func (o *Orchestrator) checkTarget(room directory.Room, to cluster.ServerID, units, need int) error {
	if err := o.checkNamed(room, to); err != nil {
		return err
	}
	srv, _ := o.reg.Get(to)
	switch err := registry.Fits(srv, units, o.p.MoveMargin); {
	case errors.Is(err, registry.ErrDead):
		return refuse(ErrServerDead, "server %s is dead", to)
	case errors.Is(err, registry.ErrDraining):
		return refuse(ErrServerDraining, "server %s is draining", to)
	case errors.Is(err, registry.ErrFull):
		return refuse(ErrNoSpare, "server %s has %d load units spare; room %s needs %d (%d accounted, cluster.move_margin %.0f%%)",
			to, srv.SpareFor(), room.Name, need, units, 100*o.p.MoveMargin)
	}
	return nil
}
