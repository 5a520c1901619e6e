package bus

import (
	"context"
	"sync"
	"time"
)

// Dedup makes a handler idempotent by request id: a request seen again (a
// redelivery after a lost ack, a retry after a reconnect) is answered with
// the first answer, and one still being served is waited for, so the work is
// done once. Answers are kept for ttl.
type Dedup struct {
	h   Handler
	ttl time.Duration

	mu   sync.Mutex
	seen map[string]*outcome
}

type outcome struct {
	done  chan struct{}
	reply any
	err   error
	at    time.Time
}

// NewDedup wraps h.
func NewDedup(h Handler, ttl time.Duration) *Dedup {
	return &Dedup{h: h, ttl: ttl, seen: map[string]*outcome{}}
}

// Serve implements Handler.
func (d *Dedup) Serve(ctx context.Context, req Envelope) (any, error) {
	if req.RequestID == "" {
		return d.h(ctx, req)
	}
	now := time.Now()
	d.mu.Lock()
	for id, o := range d.seen { // requests are few; a sweep per call keeps it bounded
		if isDone(o.done) && now.Sub(o.at) > d.ttl {
			delete(d.seen, id)
		}
	}
	o := d.seen[req.RequestID]
	first := o == nil
	if first {
		o = &outcome{done: make(chan struct{})}
		d.seen[req.RequestID] = o
	}
	d.mu.Unlock()
	if first {
		o.reply, o.err = d.h(ctx, req)
		o.at = time.Now()
		close(o.done)
		return o.reply, o.err
	}
	select {
	case <-o.done:
		return o.reply, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
