// Package signal speaks the signalling protocol (docs/protocol.md): it checks
// a client's join token at the WebSocket upgrade, holds the connection's
// limits (signal.*), and turns the client's messages into calls on the room
// host (Rooms) and the host's news into messages for the client.
package signal

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/wire"
)

// Params configures a Server.
type Params struct {
	Logger *slog.Logger
	Config config.Signal
	// Secret checks join tokens and signs the one a moved client
	// reconnects with.
	Secret []byte
	// MoveGrace is how long a moved peer keeps its media here
	// (cluster.move_grace); 0 closes it at once.
	MoveGrace time.Duration
	ServerID  cluster.ServerID
	Rooms     Rooms
	Metrics   *Metrics
	// CallTimeout bounds one client request to its transport.
	CallTimeout time.Duration
	// Clustered: the page comes from the API (another origin), and a full
	// server still has its relays, so the upgrade checks no capacity.
	Clustered bool
	// OnNoCapacity counts an upgrade refused because the host is full.
	OnNoCapacity func()
	// ICEServers, when set, fills the joined message's ice_servers.
	ICEServers ICEServers
}

// Server serves the signalling WebSockets of one server.
type Server struct {
	p       Params
	log     *slog.Logger
	metrics *Metrics
	// conns bounds the signalling connections (signal.max_connections*).
	conns *connLimits

	sessMu sync.Mutex
	sess   map[*session]struct{}
}

// New prepares the signalling of a server.
func New(p Params) *Server {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.OnNoCapacity == nil {
		p.OnNoCapacity = func() {}
	}
	return &Server{p: p, log: p.Logger, metrics: p.Metrics,
		conns: newConnLimits(p.Config.MaxConnections, p.Config.MaxConnectionsPerAddress), sess: map[*session]struct{}{}}
}

func bearer(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	return httpx.BearerHeader(r)
}

// ServeRTC serves GET /v1/rtc. It checks the join token before upgrading, so
// no unauthorised client ever reaches the signalling protocol.
func (srv *Server) ServeRTC(w http.ResponseWriter, r *http.Request) {
	if limit := srv.conns.take(r.RemoteAddr); limit != "" {
		srv.refuseConnection(w, limit)
		return
	}
	defer srv.conns.release(r.RemoteAddr)
	g, err := auth.Verify(srv.p.Secret, bearer(r))
	if err != nil {
		// The client learns which of three things went wrong, not what the
		// JWT parser said (that stays in the debug log).
		code, msg := wire.CodeUnauthorized, "the join token is missing, malformed, not signed by this cluster, or out of bounds"
		switch {
		case errors.Is(err, auth.ErrExpiredToken):
			code, msg = wire.CodeTokenExpired, "the join token has expired; get a new one"
		case errors.Is(err, auth.ErrMissingToken):
			msg = "no join token: send it as Authorization: Bearer or ?token="
		}
		srv.log.Debug("join token refused", "err", err, "remote", r.RemoteAddr)
		httpx.Error(w, http.StatusUnauthorized, code, msg)
		return
	}
	rooms := srv.p.Rooms
	if rooms.Draining() {
		httpx.Error(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "server is stopping")
		return
	}
	if !rooms.Owns(g.Room) {
		httpx.Error(w, http.StatusConflict, wire.CodeWrongServer, "this server does not host room "+g.Room+"; ask the API's join endpoint again")
		return
	}
	if !srv.p.Clustered && rooms.Full() { // in a cluster a full server still has its relays
		srv.p.OnNoCapacity()
		httpx.Error(w, http.StatusServiceUnavailable, wire.CodeNoCapacity, "the server has no capacity for another peer right now; try again later")
		return
	}
	var opts *websocket.AcceptOptions
	if srv.p.Clustered {
		// In a cluster the page comes from the API, another origin; a signed
		// join token for this room, not the origin, is what lets a client in.
		opts = &websocket.AcceptOptions{OriginPatterns: []string{"*"}}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	s := srv.newSession(ws, g)
	srv.track(s)
	s.run()
}
