package bus

import (
	"context"
	"sync"
)

// The in-process durable queues of Local: RabbitMQ's single-active-consumer
// semantics that matter to a consumer (in order, prefetch, unacked messages
// back at the head when the consumer goes).

type durableQueue struct {
	ready     []Envelope
	consumers []*durableConsumer // the first is the active one
}

type durableConsumer struct {
	l        *Local
	queue    string
	prefetch int
	h        func(Delivery)
	unacked  []*durableMsg
	feed     chan Delivery
	gone     chan struct{}
	done     chan struct{}
	once     sync.Once
}

type durableMsg struct {
	env   Envelope
	acked bool
}

func (l *Local) durable(name string) *durableQueue {
	if l.durables == nil {
		l.durables = map[string]*durableQueue{}
	}
	q := l.durables[name]
	if q == nil {
		q = &durableQueue{}
		l.durables[name] = q
	}
	return q
}

// Enqueue implements Durable.
func (l *Local) Enqueue(_ context.Context, queue string, env Envelope) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	q := l.durable(queue)
	q.ready = append(q.ready, env)
	l.feedLocked(q)
	return nil
}

// Consume implements Durable.
func (l *Local) Consume(queue string, prefetch int, h func(Delivery)) (Subscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	c := &durableConsumer{l: l, queue: queue, prefetch: max(prefetch, 1), h: h,
		feed: make(chan Delivery, max(prefetch, 1)), gone: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	q := l.durable(queue)
	q.consumers = append(q.consumers, c)
	l.feedLocked(q)
	return c, nil
}

// feedLocked hands the active consumer what its prefetch allows.
func (l *Local) feedLocked(q *durableQueue) {
	if len(q.consumers) == 0 {
		return
	}
	c := q.consumers[0]
	for len(q.ready) > 0 && len(c.unacked) < c.prefetch {
		m := &durableMsg{env: q.ready[0]}
		q.ready = q.ready[1:]
		c.unacked = append(c.unacked, m)
		c.feed <- Delivery{Envelope: m.env, Gone: c.gone, Ack: func() error { return c.ack(m) }}
	}
}

func (c *durableConsumer) loop() {
	defer close(c.done)
	for d := range c.feed {
		c.h(d)
	}
}

func (c *durableConsumer) ack(m *durableMsg) error {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	select {
	case <-c.gone:
		return ErrClosed
	default:
	}
	for i, u := range c.unacked {
		if u == m {
			c.unacked = append(c.unacked[:i], c.unacked[i+1:]...)
			break
		}
	}
	c.l.feedLocked(c.l.durable(c.queue))
	return nil
}

// Cancel implements Subscription: unacked messages go back to the head of
// the queue, for the next consumer.
func (c *durableConsumer) Cancel() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		close(c.gone)
		q := c.l.durable(c.queue)
		back := make([]Envelope, 0, len(c.unacked)+len(q.ready))
		for _, m := range c.unacked {
			back = append(back, m.env)
		}
		q.ready = append(back, q.ready...)
		c.unacked = nil
		for i, x := range q.consumers {
			if x == c {
				q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
				break
			}
		}
		close(c.feed)
		c.l.feedLocked(q)
		c.l.mu.Unlock()
		<-c.done
	})
	return nil
}
