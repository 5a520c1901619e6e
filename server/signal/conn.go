package signal

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/wire"
)

// outboxSize bounds messages queued for one client; a client that falls this far
// behind is disconnected rather than allowed to grow the server's memory.
const outboxSize = 512

// writeTimeout bounds one message's write to a client.
const writeTimeout = 10 * time.Second

// closeGrace is how long a closed client has to answer the close frame.
const closeGrace = time.Second

// conn is one WebSocket. A session outlives its conns: a client whose
// socket dropped resumes the session on a new one (resume.go).
type conn struct {
	ws     *websocket.Conn
	remote string

	// sess is the session this socket serves: nil until a join or a
	// resume on a socket opened to resume.
	sess atomic.Pointer[session]

	out       chan outMsg
	closeOnce sync.Once
	closed    chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	// readCtx bounds the read loop; it ends after the close handshake.
	readCtx    context.Context
	cancelRead context.CancelFunc
	// overflowed is set once the client fell outboxSize messages behind.
	overflowed atomic.Bool
	// readDone closes when the read loop has ended.
	readDone chan struct{}
}

// outMsg is a frame to write, or (with close set) the last thing to do.
type outMsg struct {
	data   []byte
	close  bool
	status websocket.StatusCode
	reason string
}

func newConn(ws *websocket.Conn, remote string) *conn {
	c := &conn{ws: ws, remote: remote, out: make(chan outMsg, outboxSize), closed: make(chan struct{}), readDone: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.readCtx, c.cancelRead = context.WithCancel(context.Background())
	return c
}

// enqueue queues a frame without blocking; false when the outbox is full.
func (c *conn) enqueue(b []byte) bool {
	if c.overflowed.Load() {
		return true // it is being closed: what it has not read is not worth more
	}
	select {
	case <-c.closed:
		return true
	case c.out <- outMsg{data: b}:
		return true
	default:
		return false
	}
}

// sendDirect writes v on this socket outside any session's numbering: the
// answers to a socket that has no session (yet), and resumed.
func (c *conn) sendDirect(log *slog.Logger, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("marshal signalling message", "err", err)
		return
	}
	c.enqueue(b)
}

// overflow closes a client that fell outboxSize messages behind: nothing
// more is queued, and the close (1008, RFC 6455 §7.4.1) follows what it has
// not read yet, so a slow reader learns why it was cut. One that reads
// nothing at all is cut by the write timeout instead: its close frame would
// wait behind a full TCP window.
func (c *conn) overflow(log *slog.Logger, m *Metrics) {
	if !c.overflowed.CompareAndSwap(false, true) {
		return
	}
	log.Warn("client too slow; closing its connection", "queued", outboxSize)
	m.limited.WithLabelValues(LimitSlowReader).Inc()
	go func() {
		select {
		case <-c.closed:
		case c.out <- outMsg{close: true, status: websocket.StatusPolicyViolation, reason: "too slow: outbox full"}:
		case <-time.After(writeTimeout):
			c.abort(websocket.StatusPolicyViolation, "too slow: outbox full")
		}
	}()
}

// finish writes everything queued, then closes with status.
func (c *conn) finish(status websocket.StatusCode, reason string) {
	select {
	case <-c.closed:
	case c.out <- outMsg{close: true, status: status, reason: reason}:
	default:
		c.abort(status, reason)
	}
}

// abort ends the socket's work at once and closes it with status: the
// close frame goes out after what was written, and the read loop takes the
// client's answer for up to closeGrace; then the connection is closed, and
// the read loop's end detaches or ends its session.
func (c *conn) abort(status websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		go func() {
			t := time.AfterFunc(closeGrace, c.cancelRead)
			_ = c.ws.Close(status, reason)
			t.Stop()
			c.cancelRead()
		}()
	})
}

// broken ends a socket whose write failed, most likely reset by a client
// that closed it with our messages unread. What the client sent before is
// still readable (a leave, say, which must end its peer rather than leave
// it detached), so nothing more is written, and the read loop reads on to
// the end of the stream for up to closeGrace before the socket closes.
func (c *conn) broken() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		go func() {
			t := time.AfterFunc(closeGrace, c.cancelRead)
			<-c.readDone
			t.Stop()
			_ = c.ws.CloseNow()
		}()
	})
}

func (c *conn) writeLoop() {
	for {
		select {
		case <-c.closed:
			return
		case m := <-c.out:
			if m.close {
				c.abort(m.status, m.reason)
				return
			}
			wctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, m.data)
			cancel()
			if err != nil {
				c.broken()
				return
			}
		}
	}
}

// connError answers a socket that has no session with an error; fatal
// ones close it after the message is written.
func (srv *Server) connError(c *conn, code wire.Code, msg string, fatal bool, status websocket.StatusCode) {
	srv.metrics.signalErrors.WithLabelValues(string(code)).Inc()
	c.sendDirect(srv.log, wire.Error{Envelope: wire.Envelope{Type: wire.TypeError}, Code: code, Message: msg, Fatal: fatal})
	if fatal {
		c.finish(status, string(code))
	}
}
