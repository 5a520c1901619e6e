package bus

import (
	"context"
	"strings"
	"sync"
)

// Local is an in-process Bus with the broker's semantics that matter here:
// a queue holds requests until a consumer takes them, one at a time per
// consumer, round-robin; events go to every matching subscriber.
type Local struct {
	mu     sync.Mutex
	queues map[string]*localQueue
	subs   map[*localSub]struct{}
	// durables are the durable queues (localdurable.go).
	durables map[string]*durableQueue
	closed   bool
	wg       sync.WaitGroup
}

type localQueue struct {
	waiting   []localRequest
	consumers []*localConsumer
	next      int
}

type localRequest struct {
	ctx   context.Context
	env   Envelope
	reply chan Envelope
}

type localConsumer struct {
	l     *Local
	queue string
	h     Handler
	busy  bool
	gone  bool
}

type localSub struct {
	l       *Local
	pattern string
	h       func(Envelope)
}

// NewLocal returns an empty in-process bus.
func NewLocal() *Local {
	return &Local{queues: map[string]*localQueue{}, subs: map[*localSub]struct{}{}}
}

var _ Bus = (*Local)(nil)

func (l *Local) queue(name string) *localQueue {
	q := l.queues[name]
	if q == nil {
		q = &localQueue{}
		l.queues[name] = q
	}
	return q
}

func queueOf(dst Destination) string {
	if dst.Exchange == DirectExchange {
		return "voice.server." + dst.Key
	}
	return dst.Key
}

// Request implements Bus.
func (l *Local) Request(ctx context.Context, dst Destination, req Envelope) (Envelope, error) {
	r := localRequest{ctx: ctx, env: req, reply: make(chan Envelope, 1)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Envelope{}, ErrClosed
	}
	q := l.queue(queueOf(dst))
	q.waiting = append(q.waiting, r)
	l.dispatchLocked(q)
	l.mu.Unlock()
	select {
	case rep := <-r.reply:
		return rep, nil
	case <-ctx.Done():
		return Envelope{}, ctx.Err()
	}
}

// dispatchLocked hands waiting requests to idle consumers, round-robin.
func (l *Local) dispatchLocked(q *localQueue) {
	for len(q.waiting) > 0 {
		var c *localConsumer
		for i := range q.consumers {
			cand := q.consumers[(q.next+i)%len(q.consumers)]
			if !cand.busy && !cand.gone {
				c = cand
				q.next = (q.next + i + 1) % len(q.consumers)
				break
			}
		}
		if c == nil {
			return
		}
		r := q.waiting[0]
		q.waiting = q.waiting[1:]
		if r.ctx.Err() != nil {
			continue // its requester gave up: the broker would have expired it
		}
		c.busy = true
		l.wg.Add(1)
		go c.serve(r)
	}
}

func (c *localConsumer) serve(r localRequest) {
	defer c.l.wg.Done()
	rep, err := c.h(r.ctx, r.env)
	out := Reply(r.env, rep, err)
	c.l.mu.Lock()
	c.busy = false
	c.l.dispatchLocked(c.l.queue(c.queue))
	c.l.mu.Unlock()
	r.reply <- out
}

// Serve implements Bus.
func (l *Local) Serve(queue string, h Handler) (Subscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	c := &localConsumer{l: l, queue: queue, h: h}
	q := l.queue(queue)
	q.consumers = append(q.consumers, c)
	l.dispatchLocked(q)
	return c, nil
}

// Cancel implements Subscription.
func (c *localConsumer) Cancel() error {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	c.gone = true
	q := c.l.queue(c.queue)
	for i, x := range q.consumers {
		if x == c {
			q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
			q.next = 0
			break
		}
	}
	return nil
}

// Publish implements Bus.
func (l *Local) Publish(_ context.Context, key string, ev Envelope) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	var hs []func(Envelope)
	for s := range l.subs {
		if TopicMatch(s.pattern, key) {
			hs = append(hs, s.h)
		}
	}
	l.mu.Unlock()
	for _, h := range hs {
		h(ev)
	}
	return nil
}

// Subscribe implements Bus.
func (l *Local) Subscribe(pattern string, h func(Envelope)) (Subscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	s := &localSub{l: l, pattern: pattern, h: h}
	l.subs[s] = struct{}{}
	return s, nil
}

// Cancel implements Subscription.
func (s *localSub) Cancel() error {
	s.l.mu.Lock()
	delete(s.l.subs, s)
	s.l.mu.Unlock()
	return nil
}

// Close implements Bus; it waits for requests being served.
func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	var durable []*durableConsumer
	for _, q := range l.durables {
		durable = append(durable, q.consumers...)
	}
	l.mu.Unlock()
	for _, c := range durable {
		_ = c.Cancel()
	}
	l.wg.Wait()
	return nil
}

// TopicMatch applies a topic exchange's pattern to a routing key: words
// split on '.', '*' matches one word, '#' zero or more.
func TopicMatch(pattern, key string) bool {
	return topicMatch(strings.Split(pattern, "."), strings.Split(key, "."))
}

func topicMatch(p, k []string) bool {
	for len(p) > 0 {
		switch p[0] {
		case "#":
			for i := 0; i <= len(k); i++ {
				if topicMatch(p[1:], k[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(k) == 0 {
				return false
			}
		default:
			if len(k) == 0 || k[0] != p[0] {
				return false
			}
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}
