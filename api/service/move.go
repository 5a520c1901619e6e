package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/api/registry"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// Codes of a refused move.
const (
	CodeServerUnknown  = "server_not_found"
	CodeServerDead     = "server_dead"
	CodeServerDraining = "server_draining"
	CodeAlreadyThere   = "already_there"
	CodeMoveConflict   = "move_conflict"
)

// MoveRequest is the body of POST /v1/rooms/{room}/move; without To the API
// picks the live server with the most spare capacity that fits the room with
// cluster.move_margin to spare.
type MoveRequest struct {
	To string `json:"to,omitempty"`
}

// moveError is a move refused, with the HTTP status and code to answer.
type moveError struct {
	status int
	code   string
	msg    string
}

func (e *moveError) Error() string { return e.code + ": " + e.msg }

// moveRoom is POST /v1/rooms/{room}/move.
func (s *Service) moveRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := s.lookup(w, r)
	if !ok {
		return
	}
	var body MoveRequest
	if !decodeBody(w, r, &body) {
		return
	}
	moved, err := s.move(r.Context(), room, cluster.ServerID(body.To), "api")
	if err != nil {
		s.failed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.answer(moved))
}

// move gives a room a new home (to, or the API's pick when empty): the new
// home takes the room first, the directory switches in one transaction, then
// the old home tells every peer to join the new one (a fresh token and its
// URL) and closes the room once they left or after cluster.move_grace. why
// labels the move in the metrics and logs (api, drain, rebalance).
func (s *Service) move(ctx context.Context, room directory.Room, to cluster.ServerID, why string) (directory.Room, error) {
	from := room.Server
	defer s.rooms.markPlacing(room.Name)()
	units := 0
	if old, ok := s.reg.Get(from); ok {
		units = old.RoomLoads[room.Name]
	}
	need := registry.Needs(units, s.p.MoveMargin)
	if to == "" {
		var ok bool
		to, ok = registry.MoveTarget(s.reg.Snapshot(), from, units, s.p.MoveMargin)
		if !ok {
			return directory.Room{}, &moveError{http.StatusServiceUnavailable, wire.CodeNoCapacity,
				fmt.Sprintf("no live server has %d load units spare for room %s (%d accounted, cluster.move_margin %.0f%%)", need, room.Name, units, 100*s.p.MoveMargin)}
		}
	} else if err := s.checkTarget(room, to, units, need); err != nil {
		return directory.Room{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.p.CreateTimeout)
	info, err := bus.CreateRoom.Call(cctx, s.p.Bus, bus.ToServer(to), ID, "", cluster.RoomCreate{Room: room.Name})
	cancel()
	var be *bus.Error
	if errors.As(err, &be) && be.Code == bus.CodeNoCapacity {
		return directory.Room{}, &moveError{http.StatusServiceUnavailable, wire.CodeNoCapacity, "server " + string(to) + " refused the room: " + be.Message}
	}
	if err != nil {
		return directory.Room{}, fmt.Errorf("server %s did not take room %s: %w", to, room.Name, err)
	}
	s.reg.MovedIn(info.Server, units)
	moved, err := s.p.Directory.Move(ctx, room.Name, from, info.Server)
	if err != nil {
		return directory.Room{}, err
	}
	if !moved {
		return directory.Room{}, &moveError{http.StatusConflict, CodeMoveConflict, "room " + room.Name + " moved meanwhile; ask again"}
	}
	s.m.moves.WithLabelValues(why).Inc()
	peers := 0
	if s.reg.Live(from) {
		res, err := bus.MoveRoom.Call(ctx, s.p.Bus, bus.ToServer(from), ID, "", cluster.RoomMove{Room: room.Name, To: info.Server, SignalURL: info.SignalURL})
		if err != nil {
			// Its peers will find the room through the API when they
			// reconnect; the old server is told to give it up when its
			// heartbeat still lists it.
			s.log.Warn("old home not told of the move", "room", room.Name, "server", from, "err", err)
		}
		peers = res.Peers
	}
	s.log.Info("room moved", "room", room.Name, "from", from, "to", info.Server, "peers", peers, "load_units", units, "why", why)
	return s.p.Directory.Get(ctx, room.Name)
}

// checkTarget refuses a move to a server that cannot take the room.
func (s *Service) checkTarget(room directory.Room, to cluster.ServerID, units, need int) error {
	srv, known := s.reg.Get(to)
	if !known {
		return &moveError{http.StatusNotFound, CodeServerUnknown, "no server " + string(to) + " in the registry"}
	}
	if to == room.Server {
		return &moveError{http.StatusConflict, CodeAlreadyThere, "room " + room.Name + " is on " + string(to) + " already"}
	}
	switch registry.Fits(srv, units, s.p.MoveMargin) {
	case "dead":
		return &moveError{http.StatusConflict, CodeServerDead, "server " + string(to) + " is dead"}
	case "draining":
		return &moveError{http.StatusConflict, CodeServerDraining, "server " + string(to) + " is draining"}
	case "full":
		return &moveError{http.StatusServiceUnavailable, wire.CodeNoCapacity,
			fmt.Sprintf("server %s has %d load units spare; room %s needs %d (%d accounted, cluster.move_margin %.0f%%)", to, srv.SpareFor(), room.Name, need, units, 100*s.p.MoveMargin)}
	}
	return nil
}
