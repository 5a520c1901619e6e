package service

import (
	"context"
	"errors"
	"net/http"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// Codes of a refused move.
const (
	CodeServerUnknown = "server_not_found"
	CodeServerDead    = "server_dead"
	CodeAlreadyThere  = "already_there"
	CodeMoveConflict  = "move_conflict"
)

// MoveRequest is the body of POST /v1/rooms/{room}/move; without To the API
// picks the least-stressed live server below high water.
type MoveRequest struct {
	To string `json:"to,omitempty"`
}

// moveRoom moves a room to another server: the new home takes the room
// first, the directory switches in one transaction, then the old home tells
// every peer to join the new one (a fresh token and its URL) and empties.
func (s *Service) moveRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := s.lookup(w, r)
	if !ok {
		return
	}
	var body MoveRequest
	if !decodeBody(w, r, &body) {
		return
	}
	from := room.Server
	done := s.markPlacing(room.Name)
	defer done()
	var info cluster.RoomInfo
	var err error
	if body.To != "" {
		to := cluster.ServerID(body.To)
		srv, known := s.reg.Get(to)
		switch {
		case !known:
			httpError(w, http.StatusNotFound, CodeServerUnknown, "no server "+body.To+" in the registry")
			return
		case srv.Dead:
			httpError(w, http.StatusConflict, CodeServerDead, "server "+body.To+" is dead")
			return
		case to == from:
			httpError(w, http.StatusConflict, CodeAlreadyThere, "room "+room.Name+" is on "+body.To+" already")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.p.CreateTimeout)
		info, err = bus.CreateRoom.Call(ctx, s.p.Bus, bus.ToServer(to), ID, "", cluster.RoomCreate{Room: room.Name})
		cancel()
		var be *bus.Error
		if errors.As(err, &be) && be.Code == bus.CodeNoCapacity {
			err = errNoCapacity
		}
	} else {
		info, err = s.place(r.Context(), room.Name, from)
	}
	if err != nil {
		s.failed(w, err)
		return
	}
	s.reg.Placed(info.Server)
	moved, err := s.p.Directory.Move(r.Context(), room.Name, from, info.Server)
	if err != nil {
		s.failed(w, err)
		return
	}
	if !moved {
		httpError(w, http.StatusConflict, CodeMoveConflict, "room "+room.Name+" moved meanwhile; ask again")
		return
	}
	s.m.moves.Inc()
	peers := 0
	if s.reg.Live(from) {
		res, err := bus.MoveRoom.Call(r.Context(), s.p.Bus, bus.ToServer(from), ID, "", cluster.RoomMove{Room: room.Name, To: info.Server, SignalURL: info.SignalURL})
		if err != nil {
			// Its peers will find the room through the API when they
			// reconnect; the old server is told to give it up when its
			// heartbeat still lists it.
			s.log.Warn("old home not told of the move", "room", room.Name, "server", from, "err", err)
		}
		peers = res.Peers
	}
	s.log.Info("room moved", "room", room.Name, "from", from, "to", info.Server, "peers", peers)
	moved2, err := s.p.Directory.Get(r.Context(), room.Name)
	if err != nil {
		s.failed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.answer(moved2))
}
