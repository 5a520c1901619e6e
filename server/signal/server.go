// Package signal speaks the signalling protocol (docs/protocol.md): it checks
// a client's join token at the WebSocket upgrade, holds the connection's
// limits (signal.*), and turns the client's messages into calls on the room
// host (Rooms) and the host's news into messages for the client.
package signal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

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

	// tokens finds a session by its resume token; resumeAttempts bounds
	// the wrong ones per address (the token is the credential).
	tokMu          sync.Mutex
	tokens         map[string]*session
	resumeAttempts *auth.Attempts
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
		conns: newConnLimits(p.Config.MaxConnections, p.Config.MaxConnectionsPerAddress), sess: map[*session]struct{}{},
		tokens: map[string]*session{}, resumeAttempts: auth.NewAttempts(wire.KeyAttemptsPerSecond, wire.KeyAttemptsBurst)}
}

func bearer(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	return httpx.BearerHeader(r)
}

// ServeRTC serves GET /v1/rtc. It checks the join token before upgrading, so
// no unauthorised client ever reaches the signalling protocol. A request
// with no token and ?resume=1 is upgraded for a resume only: its first
// message must be resume, whose token is its credential (resume.go).
func (srv *Server) ServeRTC(w http.ResponseWriter, r *http.Request) {
	if limit := srv.conns.take(r.RemoteAddr); limit != "" {
		srv.refuseConnection(w, limit)
		return
	}
	defer srv.conns.release(r.RemoteAddr)
	if bearer(r) == "" && r.URL.Query().Get("resume") == "1" {
		srv.serveResume(w, r)
		return
	}
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
	c := newConn(ws, r.RemoteAddr)
	s := srv.newSession(g)
	s.c = c
	c.sess.Store(s)
	srv.track(s)
	srv.serve(c)
}

// serveResume upgrades a socket opened to resume a session.
func (srv *Server) serveResume(w http.ResponseWriter, r *http.Request) {
	if srv.p.Rooms.Draining() {
		httpx.Error(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "server is stopping")
		return
	}
	if srv.resumeAttempts.Blocked(r.RemoteAddr) {
		srv.metrics.limited.WithLabelValues(LimitResumeAttempts).Inc()
		w.Header().Set("Retry-After", "5")
		httpx.Error(w, http.StatusTooManyRequests, wire.CodeRateLimited, "too many resumes with a wrong token from this address; wait, then join again")
		return
	}
	opts := &websocket.AcceptOptions{}
	if srv.p.Clustered {
		opts.OriginPatterns = []string{"*"}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	srv.serve(newConn(ws, r.RemoteAddr))
}

// serve reads c until the client or the server ends it. Its session is
// a fresh one on a socket opened with a join token, none on one opened to
// resume; a first message resume swaps it for the resumed one.
func (srv *Server) serve(c *conn) {
	go c.writeLoop()
	// closedByClient: the client sent a close frame (RFC 6455 §5.5.1), so
	// it closed its socket on purpose (a page that tears its connection
	// down, a tab closing, a client after leave) rather than lost it.
	closedByClient := false
	defer func() {
		close(c.readDone)
		if s := c.sess.Load(); s != nil {
			s.dropped(c, closedByClient)
			return
		}
		c.abort(websocket.StatusNormalClosure, "")
	}()
	sig := srv.p.Config
	limit := int64(sig.MaxMessageBytes)
	c.ws.SetReadLimit(-1) // enforced below, so the client is told why
	buf := make([]byte, limit+1)
	messages := rate.NewLimiter(rate.Limit(sig.MaxMessagesPerSecond), int(2*sig.MaxMessagesPerSecond))
	joinTimer := time.AfterFunc(sig.JoinTimeout, func() {
		s := c.sess.Load()
		switch {
		case s == nil:
			srv.metrics.limited.WithLabelValues(LimitJoinTimeout).Inc()
			srv.connError(c, wire.CodeJoinTimeout, fmt.Sprintf("no resume within %s of connecting (signal.join_timeout)", sig.JoinTimeout), true, websocket.StatusPolicyViolation)
		case !s.joined.Load():
			s.cutOff(LimitJoinTimeout, wire.CodeJoinTimeout, fmt.Sprintf("no join within %s of connecting (signal.join_timeout)", sig.JoinTimeout))
		}
	})
	defer joinTimer.Stop()
	// fatal ends the read loop after a fatal error: the socket closes
	// once what was queued is written.
	fatal := func(code wire.Code, msg string, status websocket.StatusCode) {
		if s := c.sess.Load(); s != nil {
			s.sendError("", code, msg, true)
			s.finish(status, string(code))
		} else {
			srv.connError(c, code, msg, true, status)
		}
		<-c.closed
	}
	first := true
	for {
		// Not c.ctx: cancelling a read closes the connection at once, with no
		// close frame; abort's Close ends the reads (or its grace does).
		typ, r, err := c.ws.Reader(c.readCtx)
		if err != nil {
			closedByClient = websocket.CloseStatus(err) != -1
			return
		}
		if !messages.Allow() {
			srv.metrics.limited.WithLabelValues(LimitMessagesPerSecond).Inc()
			fatal(wire.CodeRateLimited, fmt.Sprintf("more than %v messages a second (signal.max_messages_per_second)", sig.MaxMessagesPerSecond), websocket.StatusPolicyViolation)
			return
		}
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil:
			fatal(wire.CodeMessageTooLarge, "message larger than signal.max_message_bytes", websocket.StatusMessageTooBig)
			return
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		default:
			return
		}
		if !utf8.Valid(buf[:n]) && typ == websocket.MessageText {
			// RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection, 1007.
			fatal(wire.CodeBadRequest, "text message is not valid UTF-8", websocket.StatusInvalidFramePayloadData)
			return
		}
		wasFirst := first
		first = false
		s := c.sess.Load()
		if typ != websocket.MessageText {
			srv.reply(c, s, wire.CodeBadRequest, "binary messages are not accepted")
			continue
		}
		msg, err := wire.ParseClient(buf[:n])
		if err != nil {
			var ute *wire.UnknownTypeError
			if errors.As(err, &ute) {
				srv.reply(c, s, wire.CodeUnknownType, err.Error())
			} else {
				srv.reply(c, s, wire.CodeBadRequest, err.Error())
			}
			continue
		}
		if m, ok := msg.(*wire.Resume); ok && wasFirst {
			resumed := srv.resume(c, m)
			if resumed == nil {
				<-c.closed
				return
			}
			if s != nil { // the fresh session of a socket opened with a join token
				s.discard()
			}
			continue
		}
		if s == nil {
			fatal(wire.CodeUnauthorized, "a connection opened to resume (no join token) takes resume as its first message, nothing else", websocket.StatusPolicyViolation)
			return
		}
		if !s.handle(c, msg) {
			<-c.closed
			return
		}
	}
}

// reply reports a non-fatal error on c: in its session's numbering where
// it has one.
func (srv *Server) reply(c *conn, s *session, code wire.Code, msg string) {
	if s != nil {
		s.sendError("", code, msg, false)
		return
	}
	srv.connError(c, code, msg, false, 0)
}
