package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/wire"
)

// ErrResumeFailed: the client's signalling dropped and it could not take
// its session back (the server answered resume_failed, or the resume
// window passed): the client ended, and its owner joins again from scratch
// as after a reconnect (Events closes; Err says why).
var ErrResumeFailed = errors.New("signalling resume failed")

// defaultResumeWindow is the server's default signal.resume_window.
const defaultResumeWindow = 20 * time.Second

// keptMessages bounds the numbered messages the client keeps to re-send
// after a resume; the server acknowledges them only then.
const keptMessages = 256

// numbered is a message the client sent, kept for a resume.
type numbered struct {
	seq uint64
	b   []byte
}

func (c *Client) keepLocked(seq uint64, b []byte) {
	if len(c.sentMsgs) == keptMessages {
		c.sentMsgs = append(c.sentMsgs[:0], c.sentMsgs[1:]...)
	}
	c.sentMsgs = append(c.sentMsgs, numbered{seq: seq, b: b})
}

func (c *Client) resumeWindow() time.Duration {
	if c.cfg.ResumeWindow == 0 {
		return defaultResumeWindow
	}
	return c.cfg.ResumeWindow
}

func (c *Client) canResume() bool {
	return c.resumeWindow() > 0 && c.Joined != nil && c.Joined.ResumeToken != ""
}

// Resumes counts the times this client took its session back on a new
// WebSocket.
func (c *Client) Resumes() int { return int(c.resumes.Load()) }

// Err says why the client ended: nil while it runs, or after Close.
func (c *Client) Err() error {
	if p := c.endErr.Load(); p != nil {
		return *p
	}
	return nil
}

// dropped tells a socket that died (reset, EOF, a server whose writes to
// it failed) from one the server closed on purpose (leave, a fatal error,
// reconnect, move: a close frame with its status), or a client Close.
func (c *Client) dropped(err error) bool {
	if c.ctx.Err() != nil || !c.canResume() {
		return false
	}
	st := websocket.CloseStatus(err)
	return st == -1 || st == websocket.StatusInternalError || st == websocket.StatusAbnormalClosure
}

// resume takes the session back on a new WebSocket, trying with backoff
// for the resume window: the server re-sends what the client missed, and
// the client re-sends what the server did not get. False ends the client.
func (c *Client) resume() bool {
	start := time.Now()
	deadline := start.Add(c.resumeWindow())
	c.log.Info("signalling connection dropped; resuming", "peer", c.Joined.PeerID, "last_seq", c.inSeq.Load())
	wait := 50 * time.Millisecond
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		try := time.Now().Add(5 * time.Second)
		if try.After(deadline) {
			try = deadline
		}
		ctx, cancel := context.WithDeadline(c.ctx, try)
		err := c.resumeOnce(ctx)
		cancel()
		if err == nil {
			c.resumes.Add(1)
			c.log.Info("signalling resumed", "peer", c.Joined.PeerID, "attempts", attempt, "took", time.Since(start).Round(time.Millisecond))
			return true
		}
		var se *ServerError
		if errors.As(err, &se) && se.Msg.Code == wire.CodeResumeFailed {
			c.end(fmt.Errorf("%w: %w", ErrResumeFailed, err))
			select {
			case c.events <- &se.Msg:
			default:
			}
			return false
		}
		if gone(err) {
			c.end(fmt.Errorf("%w: %w", ErrResumeFailed, err))
			return false
		}
		c.log.Debug("resume attempt failed", "attempt", attempt, "err", err)
		select {
		case <-c.ctx.Done():
			return false
		case <-time.After(min(wait, time.Until(deadline))):
		}
		wait = min(2*wait, 2*time.Second)
	}
	c.end(fmt.Errorf("%w: no resume within %s", ErrResumeFailed, c.resumeWindow()))
	return false
}

func (c *Client) end(err error) {
	c.log.Info("signalling session ended", "err", err)
	c.endErr.Store(&err)
}

// resumeOnce dials a socket to resume (?resume=1, the resume token as the
// credential), sends resume, and on resumed makes it the client's socket.
func (c *Client) resumeOnce(ctx context.Context) error {
	ws, resp, err := websocket.Dial(ctx, c.wsURL+"?resume=1", c.cfg.dialOptions(nil))
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			he := &HTTPError{Status: resp.StatusCode}
			if resp.Body != nil {
				b, _ := io.ReadAll(resp.Body)
				_ = json.Unmarshal(b, &he.Body)
			}
			return he
		}
		return err
	}
	ws.SetReadLimit(8 << 20)
	ok := false
	defer func() {
		if !ok {
			_ = ws.CloseNow()
		}
	}()
	b, err := json.Marshal(wire.Resume{Envelope: wire.Envelope{Type: wire.TypeResume}, Token: c.Joined.ResumeToken, LastSeq: c.inSeq.Load()})
	if err != nil {
		return err
	}
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		return err
	}
	_, rb, err := ws.Read(ctx)
	if err != nil {
		return err
	}
	msg, err := wire.ParseServer(rb)
	if err != nil {
		return err
	}
	var r *wire.Resumed
	switch m := msg.(type) {
	case *wire.Resumed:
		r = m
	case *wire.Error:
		return &ServerError{Msg: *m}
	default:
		return fmt.Errorf("expected resumed, got %T", msg)
	}
	// The socket is the client's now; what the server did not get goes
	// first, before anything sent from here on.
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	old := c.ws
	c.ws = ws
	ok = true
	_ = old.CloseNow()
	kept := c.sentMsgs[:0]
	resent := 0
	for _, m := range c.sentMsgs {
		if m.seq <= r.LastSeq {
			continue
		}
		kept = append(kept, m)
		if err := c.writeLocked(m.b); err != nil {
			return nil // dropped again: the read loop resumes again
		}
		resent++
	}
	c.sentMsgs = kept
	c.log.Debug("re-sent what the server had not got", "messages", resent, "server_last_seq", r.LastSeq)
	return nil
}

// gone tells a resume that cannot succeed by trying again: the server's
// address answers but nothing listens there (the process that held the
// session is gone: a killed server, whose peers are rejoining elsewhere), or
// the server refused the upgrade (draining, too many attempts). A network
// that does not answer at all (unreachable, timeouts) may come back within
// the window, so that one is tried again.
func gone(err error) bool {
	var he *HTTPError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &he)
}
