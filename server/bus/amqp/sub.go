package amqp

import (
	"context"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/voicectl/voicectl/server/bus"
)

// sub is a consumer the bus keeps across reconnects: a served queue
// (requests, manual acks, one at a time) or an event subscription.
type sub struct {
	b       *Bus
	queue   string // served queue, or "" for events
	pattern string // events' topic pattern
	serve   bus.Handler
	event   func(bus.Envelope)
	// deliver and prefetch: a durable queue's consumer (durable.go).
	deliver  func(bus.Delivery)
	prefetch int

	mu       sync.Mutex
	ch       *amqp091.Channel
	tag      string
	running  sync.WaitGroup
	canceled bool
	warned   bool
}

// Serve implements bus.Bus.
func (b *Bus) Serve(queue string, h bus.Handler) (bus.Subscription, error) {
	return b.add(&sub{b: b, queue: queue, serve: h})
}

// Subscribe implements bus.Bus: a private queue bound to the events exchange.
func (b *Bus) Subscribe(pattern string, h func(bus.Envelope)) (bus.Subscription, error) {
	return b.add(&sub{b: b, pattern: pattern, event: h})
}

func (b *Bus) add(s *sub) (bus.Subscription, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, bus.ErrClosed
	}
	b.subs[s] = struct{}{}
	conn := b.conn
	up := b.up
	b.mu.Unlock()
	select {
	case <-up:
		if err := s.start(conn); err != nil {
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
			return nil, err
		}
	default: // down: started when the connection is back
	}
	return s, nil
}

// start opens the consumer's channel on conn and begins consuming.
func (s *sub) start(conn *amqp091.Connection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.canceled {
		return nil
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	var deliveries <-chan amqp091.Delivery
	if s.deliver != nil {
		deliveries, err = s.startDurable(ch)
	} else if s.queue != "" {
		if err = ch.Qos(1, 0, false); err == nil {
			if err = declareQueue(ch, s.queue); err == nil {
				s.tag = "voicectl-" + bus.NewRequestID()
				deliveries, err = ch.Consume(s.queue, s.tag, false, false, false, false, nil)
			}
		}
	} else {
		var q amqp091.Queue
		if q, err = ch.QueueDeclare("", false, true, true, false, nil); err == nil {
			if err = ch.QueueBind(q.Name, s.pattern, bus.EventsExchange, false, nil); err == nil {
				s.tag = "voicectl-" + bus.NewRequestID()
				deliveries, err = ch.Consume(q.Name, s.tag, true, true, false, false, nil)
			}
		}
	}
	if err != nil {
		_ = ch.Close()
		return err
	}
	s.ch = ch
	s.running.Add(1)
	go s.loop(deliveries)
	return nil
}

func (s *sub) loop(deliveries <-chan amqp091.Delivery) {
	defer s.running.Done()
	// gone tells a durable consumer that what this channel delivered and
	// was not acked is back in the queue.
	gone := make(chan struct{})
	defer close(gone)
	for d := range deliveries {
		env, err := decode(d.Body)
		if err != nil {
			s.reject(d, err)
			continue
		}
		if s.deliver != nil {
			s.durable(d, env, gone)
			continue
		}
		if s.queue == "" {
			s.event(env)
			continue
		}
		s.handle(d, env)
	}
}

// reject drops a malformed message: acked, so it cannot come back, and
// logged once per consumer (then only counted), so a flood of them does not
// flood the log.
func (s *sub) reject(d amqp091.Delivery, err error) {
	s.b.m.rejected.Inc()
	s.mu.Lock()
	first := !s.warned
	s.warned = true
	s.mu.Unlock()
	if first {
		s.b.log.Warn("dropping a malformed bus message (further ones are only counted in voicectl_bus_rejected_total)",
			"queue", s.queue, "pattern", s.pattern, "err", err, "bytes", len(d.Body))
	}
	if s.queue != "" {
		_ = d.Ack(false)
	}
	if d.ReplyTo != "" && d.CorrelationId != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.b.reply(ctx, d, bus.Envelope{Type: "error", Error: bus.Errorf(bus.CodeBadRequest, "malformed message: %v", err)})
	}
}

// handle serves one request, replies, and acks only once the reply is
// confirmed: if the connection drops first, the request comes back and the
// idempotent handler answers it again.
func (s *sub) handle(d amqp091.Delivery, env bus.Envelope) {
	if d.Redelivered {
		s.b.m.redeliveries.Inc()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if env.Deadline > 0 {
		cancel()
		ctx, cancel = context.WithDeadline(context.Background(), time.UnixMilli(env.Deadline))
	}
	defer cancel()
	rep, err := s.serve(ctx, env)
	out := bus.Reply(env, rep, err)
	if d.ReplyTo != "" {
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.b.reply(rctx, d, out)
		rcancel()
		if err != nil {
			s.b.log.Warn("could not reply; the request will be delivered again", "type", env.Type, "err", err)
			_ = d.Nack(false, true)
			return
		}
	}
	_ = d.Ack(false)
}

// Cancel implements bus.Subscription: it stops the consumer and waits for the
// request being served.
func (s *sub) Cancel() error {
	s.mu.Lock()
	if s.canceled {
		s.mu.Unlock()
		return nil
	}
	s.canceled = true
	ch, tag := s.ch, s.tag
	s.mu.Unlock()
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	if ch != nil {
		_ = ch.Cancel(tag, false)
		s.running.Wait()
		_ = ch.Close()
	}
	return nil
}
