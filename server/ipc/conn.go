// Package ipc is the typed request/response and event channel between the control
// process and its worker processes: newline-delimited JSON frames over the worker's
// stdin and stdout. Either side may call the other; events have no reply. A call
// carries its caller's remaining time, and a caller that gives up sends a cancel
// frame, so the other side stops work nobody waits for.
package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/wire"
)

// ErrClosed is returned by calls on a closed connection or one whose peer went away.
var ErrClosed = errors.New("ipc: connection closed")

// maxFrame bounds one frame; SDPs are the largest payloads.
const maxFrame = 4 << 20

type frame struct {
	ID     uint64          `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *RemoteError    `json:"error,omitempty"`
	Reply  bool            `json:"reply,omitempty"`
	// TimeoutUS is the caller's time left when it sent the request; relative,
	// so the two sides need not share a clock.
	TimeoutUS int64 `json:"timeout_us,omitempty"`
	// Cancel says the caller of request ID gave up.
	Cancel bool `json:"cancel,omitempty"`
}

// RemoteError is an error returned by the other side, with a stable code.
type RemoteError struct {
	Code    wire.Code `json:"code"`
	Message string    `json:"message"`
}

func (e *RemoteError) Error() string { return string(e.Code) + ": " + e.Message }

// Handler serves the other side's requests (id != 0, a result is sent back) and
// events (no reply). It runs on its own goroutine per frame only for requests;
// events are delivered in order on the read goroutine, so it must not block long.
type Handler interface {
	HandleRequest(ctx context.Context, method string, params json.RawMessage) (any, error)
	HandleEvent(method string, params json.RawMessage)
}

// Conn is one end of the channel.
type Conn struct {
	r       io.Reader
	w       io.Writer
	h       Handler
	log     *slog.Logger
	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan frame
	serving map[uint64]context.CancelFunc // the other side's requests in progress
	closed  bool
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

// New returns a channel that reads frames from r and writes them to w once started.
func New(r io.Reader, w io.Writer, h Handler, log *slog.Logger) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{r: r, w: w, h: h, log: log, pending: map[uint64]chan frame{}, serving: map[uint64]context.CancelFunc{}, done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// Start begins reading; handlers may run from then on.
func (c *Conn) Start() *Conn {
	go c.readLoop()
	return c
}

// Done is closed when the other side hangs up.
func (c *Conn) Done() <-chan struct{} { return c.done }

func (c *Conn) readLoop() {
	defer c.shutdown()
	sc := bufio.NewScanner(c.r)
	sc.Buffer(make([]byte, 64<<10), maxFrame)
	for sc.Scan() {
		var f frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			c.log.Error("ipc: bad frame", "err", err)
			continue
		}
		switch {
		case f.Reply:
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case f.Cancel:
			c.mu.Lock()
			cancel := c.serving[f.ID]
			c.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		case f.ID != 0:
			ctx, cancel := c.requestContext(f)
			go c.serve(ctx, cancel, f)
		default:
			c.h.HandleEvent(f.Method, f.Params)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		c.log.Debug("ipc: read ended", "err", err)
	}
}

// requestContext is the context a request is served in: it ends when the
// caller's time runs out, when the caller cancels, or when the channel closes.
// It is registered before the next frame is read, so a cancel that follows
// the request finds it.
func (c *Conn) requestContext(f frame) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(c.ctx)
	if f.TimeoutUS > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, time.Duration(f.TimeoutUS)*time.Microsecond)
		inner := cancel
		cancel = func() { cancelTimeout(); inner() }
	}
	c.mu.Lock()
	c.serving[f.ID] = cancel
	c.mu.Unlock()
	return ctx, cancel
}

func (c *Conn) serve(ctx context.Context, cancel context.CancelFunc, f frame) {
	defer func() {
		c.mu.Lock()
		delete(c.serving, f.ID)
		c.mu.Unlock()
		cancel()
	}()
	res, err := c.h.HandleRequest(ctx, f.Method, f.Params)
	out := frame{ID: f.ID, Reply: true}
	if err != nil {
		var re *RemoteError
		if !errors.As(err, &re) {
			re = &RemoteError{Code: CodeInternal, Message: err.Error()}
		}
		out.Error = re
	} else if res != nil {
		b, merr := json.Marshal(res)
		if merr != nil {
			out.Error = &RemoteError{Code: CodeInternal, Message: merr.Error()}
		} else {
			out.Result = b
		}
	}
	_ = c.write(out)
}

func (c *Conn) shutdown() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		close(c.done)
	}
	c.mu.Unlock()
	c.cancel()
}

func (c *Conn) write(f frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return nil
}

// Notify sends an event.
func (c *Conn) Notify(method string, params any) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	return c.write(frame{Method: method, Params: b})
}

// Call sends a request and decodes its result into out (which may be nil).
func (c *Conn) Call(ctx context.Context, method string, params, out any) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	ch := make(chan frame, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	req := frame{ID: id, Method: method, Params: b}
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutUS = max(time.Until(dl).Microseconds(), 1)
	}
	if err := c.write(req); err != nil {
		forget()
		return err
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return ErrClosed
		}
		if f.Error != nil {
			return f.Error
		}
		if out != nil && len(f.Result) > 0 {
			return json.Unmarshal(f.Result, out)
		}
		return nil
	case <-ctx.Done():
		forget()
		_ = c.write(frame{ID: id, Cancel: true})
		return ctx.Err()
	}
}
