package signal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/wire"
)

// A resume token is 128 random bits (crypto/rand), the key of the session
// in this server's table. A random key, not an HMAC of the peer id: the
// session it names lives only in this process anyway, so a token needs no
// secret to check, says nothing about the peer, and is void the moment the
// peer leaves (dropToken), which a signed token would not be without the
// same table.
const tokenPrefix = "rt_"

var (
	errResumeUnknown = errors.New("no session with this resume token here: it is unknown, forged, or its peer has left or its window passed")
	errResumeTooOld  = errors.New("the session no longer holds the messages after last_seq (it keeps a bounded number)")
)

// newToken makes s's resume token and files it.
func (srv *Server) newToken(s *session) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	srv.tokMu.Lock()
	srv.tokens[tok] = s
	srv.tokMu.Unlock()
	return tok
}

func (srv *Server) dropToken(tok string) {
	if tok == "" {
		return
	}
	srv.tokMu.Lock()
	delete(srv.tokens, tok)
	srv.tokMu.Unlock()
}

func (srv *Server) sessionOf(tok string) *session {
	srv.tokMu.Lock()
	defer srv.tokMu.Unlock()
	return srv.tokens[tok]
}

// dropped is the end of c's read loop: a session whose client numbers its
// messages, did not leave and did not close the socket itself (byClient: a
// close frame came) is detached for signal.resume_window, its peer and
// media kept; any other ends its peer, as every dropped socket did before
// resume. Only a socket lost without a close frame (reset, EOF, a dead
// path) is worth waiting for: a client that closed it will not resume it.
func (s *session) dropped(c *conn, byClient bool) {
	window := s.srv.p.Config.ResumeWindow
	s.mu.Lock()
	if s.c != c {
		s.mu.Unlock() // a resume took the session to another socket
		c.abort(websocket.StatusNormalClosure, "")
		return
	}
	s.c = nil
	resumable := !s.ended && !byClient && s.peerID != "" && s.token != "" && s.clientSeq.Load() && window > 0
	if resumable {
		s.detachedAt, s.detachedSeq = time.Now(), s.seq
		s.expiry = time.AfterFunc(window, s.expire)
	}
	seq := s.seq
	s.mu.Unlock()
	c.abort(websocket.StatusNormalClosure, "")
	if !resumable {
		if byClient {
			s.log().Debug("the client closed its signalling connection; the peer leaves")
		}
		s.leave()
		return
	}
	s.srv.metrics.resumes.WithLabelValues(ResumeDetached).Inc()
	s.log().Info("signalling connection dropped; session detached, waiting for a resume",
		"resume_window", window, "last_seq_sent", seq, "last_seq_received", s.inSeq.Load())
}

// expire ends a session still detached when its window passes, as a
// dropped socket did before resume.
func (s *session) expire() {
	s.mu.Lock()
	if s.c != nil || s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	since, peerID := time.Since(s.detachedAt), s.peerID
	s.mu.Unlock()
	s.srv.metrics.resumes.WithLabelValues(ResumeExpired).Inc()
	s.log().Info("resume window expired; the peer leaves", "detached_for", since.Round(time.Millisecond),
		"resume_window", s.srv.p.Config.ResumeWindow)
	if t, ok := s.srv.p.Rooms.(timedOut); ok && peerID != "" {
		t.TimedOut(peerID)
	}
	s.leave()
}

// attach gives s to socket c: resumed, then every message after lastSeq,
// then what comes. A socket that still held s is closed.
func (s *session) attach(c *conn, lastSeq uint64) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return errResumeUnknown
	}
	missed, ok := s.history.after(lastSeq)
	if !ok {
		s.mu.Unlock()
		return errResumeTooOld
	}
	old, detachedAt := s.c, s.detachedAt
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.c = c
	c.sess.Store(s)
	c.sendDirect(s.log(), wire.Resumed{Envelope: wire.Envelope{Type: wire.TypeResumed}, PeerID: s.peerID, LastSeq: s.inSeq.Load()})
	for _, m := range missed { // historySize < outboxSize: they all fit
		c.enqueue(m)
	}
	s.mu.Unlock()
	s.srv.metrics.resumes.WithLabelValues(ResumeResumed).Inc()
	if old != nil {
		old.abort(websocket.StatusNormalClosure, "resumed on another connection")
		s.log().Info("session resumed on a new connection, taking over from the old one", "replayed", len(missed), "remote", c.remote)
		return nil
	}
	s.log().Info("session resumed", "replayed", len(missed), "detached_for", time.Since(detachedAt).Round(time.Millisecond), "remote", c.remote)
	return nil
}

// resume serves a socket's first message when it is resume: it returns
// the session now on c, nil when c was refused (and is closing).
func (srv *Server) resume(c *conn, m *wire.Resume) *session {
	if srv.resumeAttempts.Blocked(c.remote) {
		srv.metrics.limited.WithLabelValues(LimitResumeAttempts).Inc()
		srv.connError(c, wire.CodeRateLimited, "too many resumes with a wrong token from this address; wait, then join again", true, websocket.StatusPolicyViolation)
		return nil
	}
	s := srv.sessionOf(m.Token)
	if s == nil {
		srv.metrics.resumes.WithLabelValues(ResumeFailed).Inc()
		if srv.resumeAttempts.Failed(c.remote) {
			srv.log.Info("resume with an unknown token refused", "remote", c.remote)
		}
		srv.connError(c, wire.CodeResumeFailed, errResumeUnknown.Error(), true, websocket.StatusPolicyViolation)
		return nil
	}
	if err := s.attach(c, m.LastSeq); err != nil {
		srv.metrics.resumes.WithLabelValues(ResumeFailed).Inc()
		if errors.Is(err, errResumeTooOld) {
			srv.metrics.limited.WithLabelValues(LimitResumeBuffer).Inc()
			s.log().Info("resume refused: the session no longer holds what the client missed; the peer leaves", "last_seq", m.LastSeq)
			s.finish(websocket.StatusNormalClosure, "resume_failed")
		}
		srv.connError(c, wire.CodeResumeFailed, err.Error(), true, websocket.StatusPolicyViolation)
		return nil
	}
	return s
}

// discard drops a session that never joined, whose socket resumed another.
func (s *session) discard() {
	s.mu.Lock()
	s.c, s.ended = nil, true
	s.mu.Unlock()
	s.leave()
}

// timedOut is a Rooms that tells a peer left for want of a resume from one
// that left (its participant_left reason); the room host is one.
type timedOut interface{ TimedOut(peerID string) }
