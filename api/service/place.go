package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// Home returns the room's live home: the directory's, re-homed first if its
// server is dead, or a new placement when the room is not in the directory
// and create is set (created says so).
func (o *Orchestrator) Home(ctx context.Context, name string, create bool) (room directory.Room, created bool, err error) {
	r, err := o.p.Directory.Get(ctx, name)
	switch {
	case err == nil:
		if srv, ok := o.reg.Get(r.Server); ok && srv.Dead {
			if _, err := o.rehome(ctx, name, r.Server); err != nil {
				return directory.Room{}, false, err
			}
			r, err = o.p.Directory.Get(ctx, name)
		}
		return r, false, err
	case !errors.Is(err, directory.ErrNotFound) || !create:
		return directory.Room{}, false, err
	}
	info, err := o.place(ctx, name)
	if err != nil {
		return directory.Room{}, false, err
	}
	r, created, err = o.p.Directory.Create(ctx, name, info.Server)
	if err == nil && !created && r.Server != info.Server {
		// Another replica placed it first: the server we asked gives it up.
		_, _ = bus.ReleaseRoom.Call(ctx, o.p.Bus, bus.ToServer(info.Server), ID, "", cluster.RoomRef{Room: name, Reason: "moved"})
	}
	return r, created, err
}

// place asks a server to host room: the least-stressed live servers in turn
// once the registry knows any, else the shared queue, until create_timeout.
// Each server asked counts the placement against it while its answer is
// awaited (registry.Reserve), so concurrent creates spread. The request id
// stays the same across tries of one server, so a server that answers late
// does not make the room twice. Off the broker it answers
// ErrBusUnavailable at once, not after the timeout.
func (o *Orchestrator) place(ctx context.Context, room string, exclude ...cluster.ServerID) (cluster.RoomInfo, error) {
	if err := o.busDown(); err != nil {
		return cluster.RoomInfo{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.p.CreateTimeout)
	defer cancel()
	req := cluster.RoomCreate{Room: room}
	for {
		if len(o.reg.Snapshot()) == 0 {
			// Nothing known yet (the API just started): any server with spare
			// capacity takes it from the shared queue.
			info, err := bus.CreateRoom.Call(ctx, o.p.Bus, bus.ToQueue(bus.RoomsQueue), ID, "", req)
			if err == nil {
				o.reg.Placed(info.Server)
				return info, nil
			}
			if err := o.busDown(); err != nil {
				return cluster.RoomInfo{}, err
			}
			if ctx.Err() != nil {
				return cluster.RoomInfo{}, ErrNoCapacity
			}
			continue
		}
		tried := slices.Clone(exclude)
		for {
			id, done, ok := o.reg.Reserve(o.p.HighWater, tried...)
			if !ok {
				break
			}
			tctx, tcancel := context.WithTimeout(ctx, max(o.p.CreateTimeout/4, 500*time.Millisecond))
			info, err := bus.CreateRoom.Call(tctx, o.p.Bus, bus.ToServer(id), ID, "", req)
			tcancel()
			done(err == nil)
			if err == nil {
				return info, nil
			}
			tried = append(tried, id)
			o.log.Debug("server did not take the room", "server", id, "room", room, "err", err)
			if err := o.busDown(); err != nil {
				return cluster.RoomInfo{}, err
			}
			if ctx.Err() != nil {
				return cluster.RoomInfo{}, ErrNoCapacity
			}
		}
		// Every candidate refused (or none is below high water): wait for the
		// next heartbeats, until the deadline.
		select {
		case <-ctx.Done():
			if err := o.busDown(); err != nil {
				return cluster.RoomInfo{}, err
			}
			return cluster.RoomInfo{}, fmt.Errorf("%w (within %s)", ErrNoCapacity, o.p.CreateTimeout)
		case <-time.After(max(o.p.Heartbeat/4, 50*time.Millisecond)):
		}
	}
}
