package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voicectl/voicectl/api/registry"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// errNoCapacity: no server took the room within cluster.create_timeout.
var errNoCapacity = errors.New("no server has capacity for a new room")

// place asks a server to host room: the least-stressed live servers in turn
// once the registry knows any, else the shared queue, until create_timeout.
// The request id stays the same across tries of one server, so a server that
// answers late does not make the room twice.
func (s *Service) place(ctx context.Context, room string, exclude ...cluster.ServerID) (cluster.RoomInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, s.p.CreateTimeout)
	defer cancel()
	req := cluster.RoomCreate{Room: room}
	for {
		cands := registry.Candidates(s.reg.Snapshot(), s.p.HighWater, exclude...)
		if len(cands) == 0 && len(s.reg.Snapshot()) == 0 {
			// Nothing known yet (the API just started): any server with spare
			// capacity takes it from the shared queue.
			info, err := bus.CreateRoom.Call(ctx, s.p.Bus, bus.ToQueue(bus.RoomsQueue), ID, "", req)
			if err == nil {
				s.reg.Placed(info.Server)
				return info, nil
			}
			if ctx.Err() != nil {
				return cluster.RoomInfo{}, errNoCapacity
			}
			continue
		}
		for _, id := range cands {
			tctx, tcancel := context.WithTimeout(ctx, max(s.p.CreateTimeout/4, 500*time.Millisecond))
			info, err := bus.CreateRoom.Call(tctx, s.p.Bus, bus.ToServer(id), ID, "", req)
			tcancel()
			if err == nil {
				s.reg.Placed(info.Server)
				return info, nil
			}
			s.log.Debug("server did not take the room", "server", id, "room", room, "err", err)
			if ctx.Err() != nil {
				return cluster.RoomInfo{}, errNoCapacity
			}
		}
		// Every candidate refused (or none is below high water): wait for the
		// next heartbeats, until the deadline.
		select {
		case <-ctx.Done():
			return cluster.RoomInfo{}, fmt.Errorf("%w (within %s)", errNoCapacity, s.p.CreateTimeout)
		case <-time.After(max(s.p.Heartbeat/4, 50*time.Millisecond)):
		}
	}
}
