package service

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/api/registry"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/web"
	"github.com/voicectl/voicectl/server/wire"
)

func timeSince(t time.Time) float64 { return time.Since(t).Seconds() }

// Stable codes of API errors beyond the signalling ones (docs/api.md).
const (
	CodeBadRoomName = "bad_room_name"
	CodeRoomUnknown = "room_not_found"
)

// maxRoomName bounds a room name, in bytes: what a join token may carry.
const maxRoomName = auth.MaxNameBytes

// checkIdentity refuses an empty identity or one a join token may not carry.
func checkIdentity(identity string) error {
	if identity == "" || len(identity) > auth.MaxNameBytes {
		return fmt.Errorf("identity is required (at most %d bytes)", auth.MaxNameBytes)
	}
	return nil
}

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

// Handler serves the API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc, key bool) {
		var next http.Handler = h
		if key {
			next = s.requireKey(h)
		}
		mux.Handle(pattern, s.timed(pattern, next))
	}
	route("POST /v1/rooms", s.createRoom, true)
	route("GET /v1/rooms", s.listRooms, true)
	route("GET /v1/rooms/{room}", s.getRoom, true)
	route("DELETE /v1/rooms/{room}", s.deleteRoom, true)
	route("POST /v1/rooms/{room}/join", s.join, true)
	route("POST /v1/rooms/{room}/move", s.moveRoom, true)
	route("GET /v1/servers", s.servers, true)
	route("POST /v1/servers/{id}/drain", s.drainServer, true)
	route("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"dev": s.p.Dev, "cluster": true, "version": s.p.Version})
	}, false)
	if s.p.Dev {
		route("GET /v1/dev/join", s.devJoin, false)
	}
	mux.Handle("GET /", web.Handler())
	route("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) }, false)
	route("GET /readyz", s.ready, false)
	if s.p.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.p.Gatherer, promhttp.HandlerOpts{}))
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		mux.Handle(m+" /v1/", s.requireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpError(w, http.StatusNotFound, wire.CodeNotFound, "no API endpoint "+r.Method+" "+r.URL.Path)
		})))
	}
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (s *Service) timed(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		next.ServeHTTP(sw, r)
		s.m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

func (s *Service) requireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		got := ""
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			got = strings.TrimSpace(h[7:])
		}
		if s.keyAttempts.Blocked(r.RemoteAddr) {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusTooManyRequests, wire.CodeRateLimited, "too many wrong API keys from this address; wait and try again")
			return
		}
		if s.p.APIKey == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.p.APIKey)) != 1 {
			s.m.authFailures.Inc()
			if s.keyAttempts.Failed(r.RemoteAddr) {
				s.log.Warn("wrong API key (said once a minute per address)", "remote", r.RemoteAddr)
			}
			httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "missing or wrong API key (Authorization: Bearer auth.api_key)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.HTTPError{Code: code, Message: msg})
}

// checkRoomName refuses empty, long or control-character names.
func checkRoomName(name string) error {
	switch {
	case name == "":
		return errors.New("room name is required")
	case len(name) > maxRoomName:
		return fmt.Errorf("room name is %d bytes; at most %d", len(name), maxRoomName)
	case !utf8.ValidString(name):
		return errors.New("room name is not UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("room name contains control characters")
		}
	}
	return nil
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func (s *Service) answer(r directory.Room) RoomAnswer {
	a := RoomAnswer{Room: r.Name, Server: string(r.Server), CreatedAt: r.CreatedAt, Moves: r.Moves, ServerState: "unknown"}
	if srv, ok := s.reg.Get(r.Server); ok {
		a.SignalURL = srv.SignalURL
		a.ServerState = "live"
		if srv.Dead {
			a.ServerState = "dead"
		}
	}
	return a
}

// home returns the room's live home: the directory's, re-homed first if its
// server is dead, or a new placement when the room is not in the directory
// and create is set.
func (s *Service) home(ctx context.Context, name string, create bool) (directory.Room, bool, error) {
	r, err := s.p.Directory.Get(ctx, name)
	switch {
	case err == nil:
		if srv, ok := s.reg.Get(r.Server); ok && srv.Dead {
			if _, err := s.rehome(ctx, name, r.Server); err != nil {
				return directory.Room{}, false, err
			}
			r, err = s.p.Directory.Get(ctx, name)
		}
		return r, false, err
	case !errors.Is(err, directory.ErrNotFound) || !create:
		return directory.Room{}, false, err
	}
	info, err := s.place(ctx, name)
	if err != nil {
		return directory.Room{}, false, err
	}
	r, created, err := s.p.Directory.Create(ctx, name, info.Server)
	if err == nil && !created && r.Server != info.Server {
		// Another replica placed it first: the server we asked gives it up.
		_, _ = bus.ReleaseRoom.Call(ctx, s.p.Bus, bus.ToServer(info.Server), ID, "", cluster.RoomRef{Room: name, Reason: "moved"})
	}
	return r, created, err
}

func (s *Service) failed(w http.ResponseWriter, err error) {
	var me *moveError
	switch {
	case errors.As(err, &me):
		httpError(w, me.status, me.code, me.msg)
	case errors.Is(err, errNoCapacity):
		s.m.creates.WithLabelValues("no_capacity").Inc()
		httpError(w, http.StatusServiceUnavailable, wire.CodeNoCapacity, err.Error()+"; try again later")
	case errors.Is(err, directory.ErrNotFound):
		httpError(w, http.StatusNotFound, CodeRoomUnknown, "no such room; create it with POST /v1/rooms")
	default:
		s.log.Error("api request failed", "err", err)
		httpError(w, http.StatusInternalServerError, wire.CodeInternal, err.Error())
	}
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
	room, created, err := s.home(r.Context(), body.Room, true)
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
	name := room.Name
	peers := 0
	if s.reg.Live(room.Server) {
		res, err := bus.CloseRoom.Call(r.Context(), s.p.Bus, bus.ToServer(room.Server), ID, "", cluster.RoomRef{Room: name})
		if err != nil {
			s.failed(w, fmt.Errorf("closing the room on server %s: %w", room.Server, err))
			return
		}
		peers = res.Peers
	}
	if err := s.p.Directory.Delete(r.Context(), name); err != nil && !errors.Is(err, directory.ErrNotFound) {
		s.failed(w, err)
		return
	}
	s.rooms.forget(name)
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("room %s closed; %d peers removed", name, peers)})
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
	room, _, err := s.home(r.Context(), name, true)
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

func (s *Service) servers(w http.ResponseWriter, _ *http.Request) {
	out := []wire.ClusterServer{}
	for _, srv := range s.reg.Snapshot() {
		out = append(out, clusterServer(srv))
	}
	writeJSON(w, http.StatusOK, out)
}

func clusterServer(s registry.Server) wire.ClusterServer {
	cs := wire.ClusterServer{ID: string(s.Server), SignalURL: s.SignalURL, State: "live", Version: s.Version, Rooms: len(s.Rooms),
		Peers: s.Peers, Consumers: s.Consumers, Producers: s.Producers, Stress: s.Stress, CPU: s.CPU, Accepting: s.Accepting,
		LastSeen: s.LastSeen, PlacedSinceHeartbeat: s.PlacedSince, Workers: []wire.ClusterWorker{},
		RelayRooms: s.RelayRooms, RelayPeers: s.RelayPeers, Spare: s.SpareFor(), StartedAt: s.StartedAt}
	switch {
	case s.Dead:
		cs.State = "dead"
	case s.Draining:
		cs.State = "draining"
	}
	for _, w := range s.Workers {
		cs.Workers = append(cs.Workers, wire.ClusterWorker{Index: w.Index, Ready: w.Ready, Load: w.Load, Capacity: w.Capacity, Stress: w.Stress})
	}
	return cs
}

func (s *Service) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	_, err := s.p.Directory.SchemaVersion(ctx)
	live := 0
	for _, srv := range s.reg.Snapshot() {
		if !srv.Dead {
			live++
		}
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"directory": s.p.Directory.Kind(), "directory_ok": err == nil, "servers_live": live})
}
