package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

// handlers are the server's commands; every one checks that the message is
// for this server (bus.Mux) and answers with a stable code: a refusal's own
// (bus.Errorf), else the one the error carries (wire.CodeOf, in bus.Reply).
func (a *Agent) handlers() *bus.Mux {
	m := bus.NewMux(a.p.ServerID)
	bus.Handle(m, bus.CreateRoom, a.createRoom)
	bus.Handle(m, bus.CloseRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (cluster.Result, error) {
		a.p.Host.Unclaim(r.Room)
		n, err := a.p.Host.CloseRoom(r.Room)
		if errors.Is(err, roomhost.ErrNotFound) {
			return cluster.Result{OK: true, Message: "no peers in " + r.Room}, nil
		}
		return cluster.Result{OK: err == nil, Peers: n}, err
	})
	bus.Handle(m, bus.ReleaseRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (cluster.Result, error) {
		reason := wire.ReconnectReason(r.Reason)
		if reason == "" {
			reason = wire.ReconnectMoved
		}
		return cluster.Result{OK: true, Peers: a.p.Host.Release(r.Room, reason)}, nil
	})
	bus.Handle(m, bus.KickPeer, func(_ context.Context, _ bus.Envelope, c cluster.PeerCommand) (cluster.Result, error) {
		p, err := a.p.Host.Kick(c.Room, c.Peer)
		if err != nil {
			return cluster.Result{}, err
		}
		return cluster.Result{OK: true, Message: fmt.Sprintf("peer %s (%s) kicked", p.ID, p.Identity)}, nil
	})
	bus.Handle(m, bus.MutePeer, func(_ context.Context, _ bus.Envelope, c cluster.PeerCommand) (cluster.Result, error) {
		p, err := a.p.Host.MutePeer(c.Room, c.Peer, c.Muted)
		if err != nil {
			return cluster.Result{}, err
		}
		return cluster.Result{OK: true, Message: fmt.Sprintf("peer %s (%s) muted=%v", p.ID, p.Identity, c.Muted)}, nil
	})
	bus.Handle(m, bus.MoveRoom, func(_ context.Context, _ bus.Envelope, mv cluster.RoomMove) (cluster.Result, error) {
		if mv.Room == "" || mv.SignalURL == "" {
			return cluster.Result{}, bus.Errorf(bus.CodeBadRequest, "room and signal_url are required")
		}
		n := a.p.Host.Move(mv.Room, mv.SignalURL, string(mv.To))
		return cluster.Result{OK: true, Peers: n, At: time.Now()}, nil
	})
	bus.Handle(m, bus.RoomPeers, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (wire.AdminRoomDetail, error) {
		d, err := a.p.Host.Room(r.Room)
		if errors.Is(err, roomhost.ErrNotFound) {
			// In the directory, and nobody joined yet (or everyone left).
			return wire.AdminRoomDetail{AdminRoom: wire.AdminRoom{ID: r.Room, Routers: []wire.AdminRouter{}, Speakers: []wire.Speaker{}},
				PeerList: []wire.AdminPeer{}, PipeList: []wire.AdminPipe{}}, nil
		}
		return d, err
	})
	bus.Handle(m, bus.PlaceRelay, a.placeRelay)
	bus.Handle(m, bus.ReleaseRelay, func(_ context.Context, env bus.Envelope, r cluster.RelayRelease) (cluster.Result, error) {
		if env.From == "" || r.Peer == "" || r.Try == "" {
			return cluster.Result{}, bus.Errorf(bus.CodeBadRequest, "a relay release needs its sender, peer and try")
		}
		if !a.p.Host.Lender().ReleaseTry(env.From, r.Peer, r.Try) {
			return cluster.Result{OK: true, Message: "nothing reserved for peer " + r.Peer + " by that try"}, nil
		}
		a.log.Info("relay reservation given back: the owner gave up on its answer", "owner", env.From, "room", r.Room, "peer", r.Peer)
		return cluster.Result{OK: true, Peers: 1}, nil
	})
	bus.Handle(m, bus.CallWorker, func(ctx context.Context, env bus.Envelope, call bus.WorkerCall) (json.RawMessage, error) {
		if a.p.CallWorker == nil || env.From == "" {
			return nil, bus.Errorf(bus.CodeBadRequest, "worker calls need a sender and a server that relays")
		}
		return a.p.CallWorker(ctx, env.From, call)
	})
	bus.Handle(m, bus.Drain, func(_ context.Context, _ bus.Envelope, r cluster.DrainRequest) (cluster.DrainAnswer, error) {
		if r.Deadline < 0 {
			return cluster.DrainAnswer{}, bus.Errorf(bus.CodeBadRequest, "deadline must not be negative")
		}
		until := a.p.Drain(r.Deadline)
		_, peers := a.p.Host.Counts()
		return cluster.DrainAnswer{Until: until, Peers: peers}, nil
	})
	return m
}

// createRoom claims a room. A server over high water answers no_capacity:
// the API then tries another (a create to this server's own queue), or the
// request was taken from the shared queue in the moment before the consumer
// stopped.
func (a *Agent) createRoom(_ context.Context, _ bus.Envelope, r cluster.RoomCreate) (cluster.RoomInfo, error) {
	if r.Room == "" {
		return cluster.RoomInfo{}, bus.Errorf(bus.CodeBadRequest, "room is required")
	}
	u := a.p.Usage()
	if !a.p.Host.Owns(r.Room) && (u.Draining || u.Stress > a.p.HighWater) {
		return cluster.RoomInfo{}, bus.Errorf(bus.CodeNoCapacity, "server %s is at stress %.2f (high water %.2f)", a.p.ServerID, u.Stress, a.p.HighWater)
	}
	a.p.Host.Claim(r.Room)
	return cluster.RoomInfo{Room: r.Room, Server: a.p.ServerID, SignalURL: a.p.SignalURL}, nil
}

// placeRelay lends the owner of a room a router here, when there is room: a
// server above high water takes no new relay rooms (an existing one may
// still grow where its routers have room).
func (a *Agent) placeRelay(ctx context.Context, env bus.Envelope, r cluster.RelayPlace) (cluster.RelayPlaced, error) {
	if r.Owner == "" || r.Owner != env.From {
		return cluster.RelayPlaced{}, bus.Errorf(bus.CodeBadRequest, "a relay is placed for the server that asks")
	}
	if r.Owner == a.p.ServerID {
		return cluster.RelayPlaced{}, bus.Errorf(bus.CodeBadRequest, "a server does not relay its own rooms")
	}
	a.Seen(r.Owner)
	u := a.p.Usage()
	if u.Draining || (u.Stress > a.p.HighWater && !a.p.Host.Lender().Lends(r.Owner, r.Room)) {
		return cluster.RelayPlaced{}, bus.Errorf(bus.CodeNoCapacity, "server %s is at stress %.2f (high water %.2f)", a.p.ServerID, u.Stress, a.p.HighWater)
	}
	placed, err := a.p.Host.Lender().Place(ctx, r)
	switch {
	case errors.Is(err, roomhost.ErrNoCapacity), errors.Is(err, roomhost.ErrUnavailable):
		return cluster.RelayPlaced{}, bus.Errorf(bus.CodeNoCapacity, "%v", err)
	case err != nil:
		return cluster.RelayPlaced{}, err
	}
	return placed, nil
}
