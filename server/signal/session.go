package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

// outboxSize bounds messages queued for one client; a client that falls this far
// behind is disconnected rather than allowed to grow the server's memory.
const outboxSize = 512

// writeTimeout bounds one message's write to a client.
const writeTimeout = 10 * time.Second

// session is one client's WebSocket.
type session struct {
	srv   *Server
	ws    *websocket.Conn
	grant auth.Grant
	logp  atomic.Pointer[slog.Logger] // gains the peer id after the join

	out       chan outMsg
	closeOnce sync.Once
	closed    chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	// readCtx bounds the read loop; it ends after the close handshake.
	readCtx    context.Context
	cancelRead context.CancelFunc

	// peerID is set by the read loop once the host admitted the join;
	// joinDone closes when its Connect (on a goroutine of its own, so the
	// read loop keeps serving leave and mute meanwhile) has returned.
	peerID   string
	joinDone chan struct{}
	// media is the server whose worker carries the peer's media (iceservers.go).
	media cluster.ServerID
	// joined is set once the join was admitted (signal.join_timeout);
	// candidates counts the client's trickle candidates (signal.max_candidates).
	joined     atomic.Bool
	candidates int
	// overflowed is set once the client fell outboxSize messages behind.
	overflowed atomic.Bool
}

var _ roomhost.Session = (*session)(nil)

// Send implements roomhost.Session.
func (s *session) Send(msg any) { s.send(s.withICEServers(msg)) }

// Reconnect implements roomhost.Session.
func (s *session) Reconnect(reason wire.ReconnectReason, delayMS int) { s.reconnect(reason, delayMS) }

// Move implements roomhost.Session: the token is this session's grant
// again, for a little while (long enough to reconnect).
func (s *session) Move(url, server string) {
	g := s.grant
	g.Expires = time.Now().Add(moveTokenTTL)
	tok, err := auth.Sign(s.srv.p.Secret, g)
	if err != nil {
		s.reconnect(wire.ReconnectMoved, 0)
		return
	}
	s.send(wire.Move{Envelope: wire.Envelope{Type: wire.TypeMove}, URL: url, Token: tok, Server: server})
	// The peer keeps its media here while it joins the new home, and leaves
	// once there; one that has not left by cluster.move_grace is closed.
	grace := s.srv.p.MoveGrace
	if grace <= 0 {
		s.finish(websocket.StatusServiceRestart, "moved")
		return
	}
	// finish on a session that has closed meanwhile does nothing.
	time.AfterFunc(grace, func() { s.finish(websocket.StatusServiceRestart, "moved") })
}

// moveTokenTTL bounds the token a moved client reconnects with.
const moveTokenTTL = 2 * time.Minute

// End implements roomhost.Session.
func (s *session) End(code wire.Code, message string) {
	s.sendError("", code, message, true)
	s.finish(websocket.StatusNormalClosure, string(code))
}

// outMsg is a frame to write, or (with close set) the last thing to do.
type outMsg struct {
	data   []byte
	close  bool
	status websocket.StatusCode
	reason string
}

func (srv *Server) newSession(ws *websocket.Conn, g auth.Grant) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{srv: srv, ws: ws, grant: g, out: make(chan outMsg, outboxSize), closed: make(chan struct{}), ctx: ctx, cancel: cancel}
	s.readCtx, s.cancelRead = context.WithCancel(context.Background())
	s.logp.Store(srv.log.With("room", g.Room, "identity", g.Identity))
	return s
}

func (s *session) log() *slog.Logger { return s.logp.Load() }

// send queues v for the client; it never blocks.
func (s *session) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log().Error("marshal signalling message", "err", err)
		return
	}
	if s.overflowed.Load() {
		return // it is being closed: what it has not read is not worth more
	}
	select {
	case <-s.closed:
	case s.out <- outMsg{data: b}:
	default:
		s.overflow()
	}
}

// overflow closes a client that fell outboxSize messages behind: nothing
// more is queued, and the close (1008, RFC 6455 §7.4.1) follows what it has
// not read yet, so a slow reader learns why it was cut. One that reads
// nothing at all is cut by the write timeout instead: its close frame would
// wait behind a full TCP window.
func (s *session) overflow() {
	if !s.overflowed.CompareAndSwap(false, true) {
		return
	}
	s.log().Warn("client too slow; closing its connection", "queued", outboxSize)
	s.srv.metrics.limited.WithLabelValues(LimitSlowReader).Inc()
	go func() {
		select {
		case <-s.closed:
		case s.out <- outMsg{close: true, status: websocket.StatusPolicyViolation, reason: "too slow: outbox full"}:
		case <-time.After(writeTimeout):
			s.abort(websocket.StatusPolicyViolation, "too slow: outbox full")
		}
	}()
}

// sendError reports a failed request; fatal ones end the session after the message is written.
func (s *session) sendError(reqID string, code wire.Code, msg string, fatal bool) {
	s.srv.metrics.signalErrors.WithLabelValues(string(code)).Inc()
	s.log().Debug("signalling error", "request", reqID, "code", code, "fatal", fatal, "err", msg)
	s.send(wire.Error{Envelope: wire.Envelope{Type: wire.TypeError, ID: reqID}, Code: code, Message: msg, Fatal: fatal})
}

// cutOff ends a session that went past a limit: the client is told why,
// then the connection closes with 1008 (RFC 6455 §7.4.1, policy violation).
func (s *session) cutOff(limit string, code wire.Code, msg string) {
	s.srv.metrics.limited.WithLabelValues(limit).Inc()
	s.sendError("", code, msg, true)
	s.finish(websocket.StatusPolicyViolation, string(code))
}

// finish writes everything queued, then closes with status.
func (s *session) finish(status websocket.StatusCode, reason string) {
	select {
	case <-s.closed:
	case s.out <- outMsg{close: true, status: status, reason: reason}:
	default:
		s.abort(status, reason)
	}
}

// abort ends the session's work at once and closes the WebSocket with
// status: the close frame goes out after what was written, and the read loop
// takes the client's answer for up to closeGrace; then the connection is
// closed, and the read loop's end lets the peer leave.
func (s *session) abort(status websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.cancel()
		go func() {
			t := time.AfterFunc(closeGrace, s.cancelRead)
			_ = s.ws.Close(status, reason)
			t.Stop()
			s.cancelRead()
		}()
	})
}

// closeGrace is how long a closed client has to answer the close frame.
const closeGrace = time.Second

func (s *session) reconnect(reason wire.ReconnectReason, delayMS int) {
	s.send(wire.Reconnect{Envelope: wire.Envelope{Type: wire.TypeReconnect}, Reason: string(reason), DelayMS: delayMS})
	s.finish(websocket.StatusServiceRestart, string(reason))
}

func (s *session) writeLoop() {
	for {
		select {
		case <-s.closed:
			return
		case m := <-s.out:
			if m.close {
				s.abort(m.status, m.reason)
				return
			}
			wctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
			err := s.ws.Write(wctx, websocket.MessageText, m.data)
			cancel()
			if err != nil {
				s.abort(websocket.StatusInternalError, "write failed")
				return
			}
		}
	}
}

// run serves the session until the client or the server ends it.
func (s *session) run() {
	go s.writeLoop()
	defer func() {
		s.cancel() // a join still being set up gives up
		if s.joinDone != nil {
			<-s.joinDone
		}
		if s.peerID != "" {
			s.srv.p.Rooms.Leave(s.peerID)
		}
		s.srv.forget(s)
		s.abort(websocket.StatusNormalClosure, "")
	}()
	sig := s.srv.p.Config
	limit := int64(sig.MaxMessageBytes)
	s.ws.SetReadLimit(-1) // enforced below, so the client is told why
	buf := make([]byte, limit+1)
	messages := rate.NewLimiter(rate.Limit(sig.MaxMessagesPerSecond), int(2*sig.MaxMessagesPerSecond))
	joinTimer := time.AfterFunc(sig.JoinTimeout, func() {
		if !s.joined.Load() {
			s.cutOff(LimitJoinTimeout, wire.CodeJoinTimeout, fmt.Sprintf("no join within %s of connecting (signal.join_timeout)", sig.JoinTimeout))
		}
	})
	defer joinTimer.Stop()
	for {
		// Not s.ctx: cancelling a read closes the connection at once, with no
		// close frame; abort's Close ends the reads (or its grace does).
		typ, r, err := s.ws.Reader(s.readCtx)
		if err != nil {
			return
		}
		if !messages.Allow() {
			s.cutOff(LimitMessagesPerSecond, wire.CodeRateLimited,
				fmt.Sprintf("more than %v messages a second (signal.max_messages_per_second)", sig.MaxMessagesPerSecond))
			<-s.closed
			return
		}
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil:
			s.sendError("", wire.CodeMessageTooLarge, "message larger than signal.max_message_bytes", true)
			s.finish(websocket.StatusMessageTooBig, "message too large")
			<-s.closed
			return
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		default:
			return
		}
		if typ != websocket.MessageText {
			s.sendError("", wire.CodeBadRequest, "binary messages are not accepted", false)
			continue
		}
		if !utf8.Valid(buf[:n]) {
			// RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection, 1007.
			s.sendError("", wire.CodeBadRequest, "text message is not valid UTF-8", true)
			s.finish(websocket.StatusInvalidFramePayloadData, "invalid UTF-8")
			<-s.closed
			return
		}
		if !s.handle(buf[:n]) {
			<-s.closed
			return
		}
	}
}

// handle serves one message; false ends the session.
func (s *session) handle(data []byte) bool {
	msg, err := wire.ParseClient(data)
	if err != nil {
		var ute *wire.UnknownTypeError
		if errors.As(err, &ute) {
			s.sendError("", wire.CodeUnknownType, err.Error(), false)
		} else {
			s.sendError("", wire.CodeBadRequest, err.Error(), false)
		}
		return true
	}
	switch m := msg.(type) {
	case *wire.Join:
		if s.peerID != "" {
			s.sendError(m.ID, wire.CodeAlreadyJoined, "this connection has joined already", false)
			return true
		}
		publish := s.grant.Publish
		if m.Publish != nil && !*m.Publish {
			publish = false
		}
		return s.join(m.ID, publish)
	case *wire.SessionDescription:
		if s.peerID == "" {
			s.sendError(m.ID, wire.CodeNotJoined, "join first", false)
			return true
		}
		if max := s.srv.p.Config.MaxSDPBytes; len(m.SDP) > max {
			s.srv.metrics.limited.WithLabelValues(LimitSDPBytes).Inc()
			s.sendError(m.ID, wire.CodeSDPTooLarge, fmt.Sprintf("the SDP has %d bytes, more than signal.max_sdp_bytes (%d)", len(m.SDP), max), false)
			return true
		}
		s.workerRequest(m.ID, func(ctx context.Context) error { return s.srv.p.Rooms.Answer(ctx, s.peerID, m.SDP) })
	case *wire.Candidate:
		if s.peerID == "" {
			s.sendError(m.ID, wire.CodeNotJoined, "join first", false)
			return true
		}
		if s.candidates++; s.candidates > s.srv.p.Config.MaxCandidates {
			s.srv.metrics.limited.WithLabelValues(LimitCandidates).Inc()
			s.sendError(m.ID, wire.CodeTooManyCandidates, fmt.Sprintf("more than %d candidates on one connection (signal.max_candidates); this one is not used", s.srv.p.Config.MaxCandidates), false)
			return true
		}
		s.workerRequest(m.ID, func(ctx context.Context) error { return s.srv.p.Rooms.AddCandidate(ctx, s.peerID, m.Candidate) })
	case *wire.Mute:
		if s.peerID == "" {
			s.sendError(m.ID, wire.CodeNotJoined, "join first", false)
			return true
		}
		if err := s.srv.p.Rooms.Mute(s.peerID, m.Muted); err != nil {
			s.sendError(m.ID, wire.CodeOf(err), muteErrorText(err), false)
		}
	case *wire.Envelope:
		switch m.Type {
		case wire.TypePing:
			s.send(wire.Envelope{Type: wire.TypePong, ID: m.ID})
		case wire.TypeLeave:
			s.finish(websocket.StatusNormalClosure, "left")
			return false
		}
	}
	return true
}

// join admits the peer in the read loop (placement only, no I/O) and sets
// its media up on a goroutine, so a leave or mute sent meanwhile is served.
func (s *session) join(reqID string, publish bool) bool {
	start := time.Now()
	adm, err := s.srv.p.Rooms.Admit(roomhost.JoinRequest{Room: s.grant.Room, Identity: s.grant.Identity, Publish: publish, Session: s})
	if err != nil {
		s.joinFailed(reqID, err)
		return false
	}
	s.peerID, s.media = adm.PeerID, adm.Worker.Server
	s.joined.Store(true)
	s.logp.Store(s.log().With("peer", adm.PeerID))
	s.joinDone = make(chan struct{})
	go func() {
		defer close(s.joinDone)
		if err := s.srv.p.Rooms.Connect(s.ctx, adm.PeerID); err != nil {
			if s.ctx.Err() == nil {
				s.joinFailed(reqID, err)
			}
			return
		}
		s.srv.metrics.joinSeconds.Observe(time.Since(start).Seconds())
		if adm.Worker.Server != s.srv.p.ServerID {
			s.log().Info("peer joined", "worker", adm.Worker.Index, "relay", adm.Worker.Server, "publish", publish)
		} else {
			s.log().Info("peer joined", "worker", adm.Worker.Index, "publish", publish)
		}
	}()
	return true
}

func (s *session) joinFailed(reqID string, err error) {
	code := wire.CodeOf(err)
	s.sendError(reqID, code, joinErrorText(code, err), true)
	s.finish(websocket.StatusTryAgainLater, string(code))
}

func joinErrorText(code wire.Code, err error) string {
	switch code {
	case wire.CodeNoCapacity:
		return "the server has no capacity for another peer right now; try again later"
	case wire.CodeUnavailable:
		return "the server cannot take peers right now (" + err.Error() + "); try again"
	}
	return err.Error()
}

// muteErrorText says why a mute failed, in the client's terms.
func muteErrorText(err error) string {
	switch {
	case errors.Is(err, roomhost.ErrNotProducer):
		return "this peer does not publish"
	case errors.Is(err, roomhost.ErrNotJoined):
		return "not joined"
	}
	return err.Error()
}

// workerRequest forwards a client request to its transport and reports
// failures with their code.
func (s *session) workerRequest(reqID string, call func(context.Context) error) {
	cctx, cancel := context.WithTimeout(s.ctx, s.srv.p.CallTimeout)
	defer cancel()
	if err := call(cctx); err != nil {
		s.sendError(reqID, wire.CodeOf(err), err.Error(), false)
	}
}
