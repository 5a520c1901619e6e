package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

// session is one client's signalling session: its peer, the numbering of
// the messages both ways, and the socket it is on now. A socket that drops
// without a leave detaches the session for signal.resume_window (resume.go).
type session struct {
	srv   *Server
	grant auth.Grant
	logp  atomic.Pointer[slog.Logger] // gains the peer id after the join

	// ctx is the peer's life: it ends when the peer leaves.
	ctx    context.Context
	cancel context.CancelFunc

	// peerID is set by the read loop once the host admitted the join;
	// joinDone closes when its Connect (on a goroutine of its own, so the
	// read loop keeps serving leave and mute meanwhile) has returned.
	peerID   string
	joinDone chan struct{}
	// media is the server whose worker carries the peer's media (iceservers.go).
	media cluster.ServerID
	// joined is set once the join was admitted (signal.join_timeout).
	joined atomic.Bool

	// handleMu serves one client message at a time, also across the two
	// sockets of a resume that took over from a socket still reading.
	handleMu sync.Mutex
	// candidates counts the client's trickle candidates (signal.max_candidates).
	candidates int
	// inSeq is the last client seq served; clientSeq is set once the client
	// numbers its messages (only such a client can resume).
	inSeq     atomic.Uint64
	clientSeq atomic.Bool

	mu sync.Mutex
	// c is the socket now, nil while detached.
	c *conn
	// ended: the server or the client ended the session; its socket's
	// close ends the peer, no resume.
	ended bool
	// numbering starts after joined; seq is the last number sent.
	numbering bool
	seq       uint64
	history   replay
	token     string
	// While detached: since when, the seq sent last before, and the
	// window's timer.
	detachedAt  time.Time
	detachedSeq uint64
	expiry      *time.Timer

	leaveOnce sync.Once
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
	// finish on a session that has ended meanwhile does nothing.
	time.AfterFunc(grace, func() { s.finish(websocket.StatusServiceRestart, "moved") })
}

// moveTokenTTL bounds the token a moved client reconnects with.
const moveTokenTTL = 2 * time.Minute

// End implements roomhost.Session.
func (s *session) End(code wire.Code, message string) {
	s.sendError("", code, message, true)
	s.finish(websocket.StatusNormalClosure, string(code))
}

func (srv *Server) newSession(g auth.Grant) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{srv: srv, grant: g, ctx: ctx, cancel: cancel}
	s.logp.Store(srv.log.With("room", g.Room, "identity", g.Identity))
	return s
}

func (s *session) log() *slog.Logger { return s.logp.Load() }

// current is the session's socket now, nil while detached.
func (s *session) current() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// send numbers v (after joined), keeps it for a resume, and queues it on
// the socket; it never blocks.
func (s *session) send(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	joined, isJoined := v.(wire.Joined)
	if isJoined {
		joined.ResumeToken = s.token
		v = joined
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.log().Error("marshal signalling message", "err", err)
		return
	}
	if s.numbering {
		s.seq++
		b = wire.StampSeq(b, s.seq)
		dropped := s.history.add(s.seq, b)
		if s.c == nil && dropped > s.detachedSeq && !s.ended {
			// It would miss a message sent while it was away: it cannot
			// resume, and the peer ends now rather than at the window's end.
			s.ended = true
			s.srv.metrics.limited.WithLabelValues(LimitResumeBuffer).Inc()
			s.log().Info("detached session kept more messages than it holds; ending the peer", "kept", historySize)
			go s.leave()
			return
		}
	}
	if isJoined {
		s.numbering = true
	}
	if s.c != nil && !s.c.enqueue(b) {
		s.ended = true
		s.c.overflow(s.log(), s.srv.metrics)
	}
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

// finish ends the session: its socket writes everything queued, then
// closes with status, and the peer leaves; a detached one leaves now.
func (s *session) finish(status websocket.StatusCode, reason string) {
	s.mu.Lock()
	s.ended = true
	c := s.c
	s.mu.Unlock()
	if c == nil {
		go s.leave()
		return
	}
	c.finish(status, reason)
}

func (s *session) reconnect(reason wire.ReconnectReason, delayMS int) {
	s.send(wire.Reconnect{Envelope: wire.Envelope{Type: wire.TypeReconnect}, Reason: string(reason), DelayMS: delayMS})
	s.finish(websocket.StatusServiceRestart, string(reason))
}

// leave ends the peer, once: a join still being set up gives up, the host
// removes the peer, and its resume token is void.
func (s *session) leave() {
	s.leaveOnce.Do(func() {
		s.mu.Lock()
		s.ended = true
		if s.expiry != nil {
			s.expiry.Stop()
		}
		c, peerID, joinDone, token := s.c, s.peerID, s.joinDone, s.token
		s.mu.Unlock()
		s.srv.dropToken(token)
		s.cancel()
		if joinDone != nil {
			<-joinDone
		}
		if peerID != "" {
			s.srv.p.Rooms.Leave(peerID)
		}
		s.srv.forget(s)
		if c != nil {
			c.abort(websocket.StatusNormalClosure, "")
		}
	})
}

// handle serves one message that arrived on c; false ends the session.
func (s *session) handle(c *conn, msg any) bool {
	s.handleMu.Lock()
	defer s.handleMu.Unlock()
	if s.current() != c {
		return true // a resume took the session to another socket; this one is closing
	}
	if h, ok := msg.(interface{ Head() *wire.Envelope }); ok && h.Head().Seq > 0 {
		seq := h.Head().Seq
		s.clientSeq.Store(true)
		if seq <= s.inSeq.Load() {
			s.log().Debug("client message repeated after a resume; already served", "seq", seq)
			return true
		}
		s.inSeq.Store(seq)
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
	case *wire.Resume:
		s.sendError(m.ID, wire.CodeBadRequest, "resume is only the first message on a new connection", false)
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
		case wire.TypeRestartICE:
			if s.peerID == "" {
				s.sendError(m.ID, wire.CodeNotJoined, "join first", false)
				return true
			}
			s.log().Info("ICE restart requested by the client")
			s.workerRequest(m.ID, func(ctx context.Context) error { return s.srv.p.Rooms.RestartICE(ctx, s.peerID) })
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
	if s.srv.p.Config.ResumeWindow > 0 {
		// Before Admit: the host sends joined, which carries it.
		s.mu.Lock()
		s.token = s.srv.newToken(s)
		s.mu.Unlock()
	}
	adm, err := s.srv.p.Rooms.Admit(roomhost.JoinRequest{Room: s.grant.Room, Identity: s.grant.Identity, Publish: publish, Session: s})
	if err != nil {
		s.joinFailed(reqID, err)
		return false
	}

	s.mu.Lock()
	s.peerID, s.media = adm.PeerID, adm.Worker.Server
	s.joinDone = make(chan struct{})
	s.mu.Unlock()
	s.joined.Store(true)
	s.logp.Store(s.log().With("peer", adm.PeerID))
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
