package service

import (
	"fmt"
	"net/http"
	"time"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// The rooms' routes: create, get, list, delete, join, move.

// RoomAnswer is a room with its server, as the API answers it.
type RoomAnswer = wire.ClusterRoom

// JoinRequest is the body of POST /v1/rooms/{room}/join.
type JoinRequest struct {
	Identity string `json:"identity"`
	Publish  *bool  `json:"publish,omitempty"`
	// TTLSeconds is the token's lifetime (default: the API's api.token_ttl).
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// JoinAnswer carries what a client needs to join: a token and where to use it.
type JoinAnswer struct {
	Room      string           `json:"room"`
	Server    cluster.ServerID `json:"server"`
	SignalURL string           `json:"signal_url"` // GET {signal_url}/v1/rtc?token=…
	Token     string           `json:"token"`
	ExpiresAt time.Time        `json:"expires_at"`
}

// answer is a directory entry with its server's URL and state (live,
// draining, dead, or unknown to the registry).
func (s *Service) answer(r directory.Room) RoomAnswer {
	a := RoomAnswer{Room: r.Name, Server: string(r.Server), CreatedAt: r.CreatedAt, Moves: r.Moves, ServerState: cluster.ServerUnknown}
	if srv, ok := s.reg.Get(r.Server); ok {
		a.SignalURL = srv.SignalURL
		a.ServerState = srv.State()
	}
	return a
}

// createRoom is POST /v1/rooms {"room": name}: get or create.
func (s *Service) createRoom(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Room string `json:"room"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if err := checkRoomName(body.Room); err != nil {
		httpError(w, http.StatusBadRequest, CodeBadRoomName, err.Error())
		return
	}
	room, created, err := s.o.Home(r.Context(), body.Room, true)
	if err != nil {
		s.failed(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.m.creates.WithLabelValues("created").Inc()
	} else {
		s.m.creates.WithLabelValues("existing").Inc()
	}
	writeJSON(w, status, s.answer(room))
}

func (s *Service) roomName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("room")
	if err := checkRoomName(name); err != nil {
		httpError(w, http.StatusBadRequest, CodeBadRoomName, err.Error())
		return "", false
	}
	return name, true
}

// lookup is the directory entry of the path's room, or the error answered.
func (s *Service) lookup(w http.ResponseWriter, r *http.Request) (directory.Room, bool) {
	name, ok := s.roomName(w, r)
	if !ok {
		return directory.Room{}, false
	}
	room, err := s.p.Directory.Get(r.Context(), name)
	if err != nil {
		s.failed(w, err)
		return directory.Room{}, false
	}
	return room, true
}

func (s *Service) getRoom(w http.ResponseWriter, r *http.Request) {
	if room, ok := s.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, s.answer(room))
	}
}

// roomPeers is GET /v1/rooms/{room}/peers: the room on its server, with
// its peers and their connection quality (wire.AdminRoomDetail, as the
// server's GET /admin/v1/rooms/{room} answers it).
func (s *Service) roomPeers(w http.ResponseWriter, r *http.Request) {
	room, ok := s.lookup(w, r)
	if !ok {
		return
	}
	d, err := s.o.Peers(r.Context(), room)
	if err != nil {
		s.failed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Service) listRooms(w http.ResponseWriter, r *http.Request) {
	rooms, err := s.p.Directory.List(r.Context(), cluster.ServerID(r.URL.Query().Get("server")))
	if err != nil {
		s.failed(w, err)
		return
	}
	out := make([]RoomAnswer, 0, len(rooms))
	for _, room := range rooms {
		out = append(out, s.answer(room))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) deleteRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := s.lookup(w, r)
	if !ok {
		return
	}
	peers, err := s.o.Delete(r.Context(), room)
	if err != nil {
		s.failed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("room %s closed; %d peers removed", room.Name, peers)})
}

// join is POST /v1/rooms/{room}/join: a token and the URL of the room's
// live server (the room is created if it does not exist).
func (s *Service) join(w http.ResponseWriter, r *http.Request) {
	name, ok := s.roomName(w, r)
	if !ok {
		return
	}
	var body JoinRequest
	if !decodeBody(w, r, &body) {
		return
	}
	if err := checkIdentity(body.Identity); err != nil {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	ttl := s.p.TokenTTL
	if body.TTLSeconds > 0 {
		ttl = time.Duration(body.TTLSeconds) * time.Second
	}
	s.grant(w, r, name, body.Identity, body.Publish == nil || *body.Publish, ttl)
}

// devJoin is GET /v1/dev/join?room=&identity=&publish=0 with --dev: what the
// browser page asks for a join and again after every reconnect, so that a
// page whose server died lands on the room's new home.
func (s *Service) devJoin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, identity := q.Get("room"), q.Get("identity")
	if err := checkRoomName(name); err != nil {
		httpError(w, http.StatusBadRequest, CodeBadRoomName, err.Error())
		return
	}
	if err := checkIdentity(identity); err != nil {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	s.grant(w, r, name, identity, q.Get("publish") != "0", s.p.TokenTTL)
}

// grant answers a join: the room's live home (placed or re-homed if needed)
// and a token for it.
func (s *Service) grant(w http.ResponseWriter, r *http.Request, name, identity string, publish bool, ttl time.Duration) {
	room, _, err := s.o.Home(r.Context(), name, true)
	if err != nil {
		s.failed(w, err)
		return
	}
	a := s.answer(room)
	exp := time.Now().Add(ttl)
	tok, err := auth.Sign(s.p.Secret, auth.Grant{Room: name, Identity: identity, Publish: publish, Expires: exp})
	if err != nil {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, JoinAnswer{Room: name, Server: room.Server, SignalURL: a.SignalURL, Token: tok, ExpiresAt: exp})
}

// MoveRequest is the body of POST /v1/rooms/{room}/move; without To the API
// picks the live server with the most spare capacity that fits the room with
// cluster.move_margin to spare.
type MoveRequest struct {
	To string `json:"to,omitempty"`
}

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
	moved, err := s.o.Move(r.Context(), room, cluster.ServerID(body.To), "api")
	if err != nil {
		s.failed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.answer(moved))
}
