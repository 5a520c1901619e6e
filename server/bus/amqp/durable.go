package amqp

import (
	"context"
	"encoding/json"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/voicectl/voicectl/server/bus"
)

// Durable queues (bus.Durable) are quorum queues with a single active
// consumer: one consumer at a time gets the messages, in order, and when
// its channel goes the next one takes over from the first unacked message.
// No delivery limit: a message here is only ever handed back because its
// consumer went (an API restart), never because it is poison, and dropping
// it after n restarts would lose it.
var durableArgs = amqp091.Table{"x-queue-type": "quorum", "x-single-active-consumer": true}

func declareDurable(ch *amqp091.Channel, name string) error {
	_, err := ch.QueueDeclare(name, true, false, false, false, durableArgs)
	return err
}

// Enqueue implements bus.Durable: a persistent message in queue (declared
// first on this connection), confirmed by the broker.
func (b *Bus) Enqueue(ctx context.Context, queue string, env bus.Envelope) error {
	if err := b.declareOnce(ctx, queue); err != nil {
		return err
	}
	body, err := json.Marshal(env)
	if err != nil {
		return err
	}
	return b.publish(ctx, "durable", "", queue, false, amqp091.Publishing{ContentType: "application/json",
		DeliveryMode: amqp091.Persistent, MessageId: env.RequestID, Type: env.Type, Timestamp: time.Now(), Body: body})
}

// declareOnce declares a durable queue once per connection, on a channel of
// its own (a refused declaration closes its channel, not the publisher's).
func (b *Bus) declareOnce(ctx context.Context, queue string) error {
	_, _, err := b.connection(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	conn, done := b.conn, b.declared[queue]
	b.mu.Unlock()
	if done {
		return nil
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := declareDurable(ch, queue); err != nil {
		return err
	}
	b.mu.Lock()
	if b.conn == conn {
		b.declared[queue] = true
	}
	b.mu.Unlock()
	return nil
}

// Consume implements bus.Durable.
func (b *Bus) Consume(queue string, prefetch int, h func(bus.Delivery)) (bus.Subscription, error) {
	return b.add(&sub{b: b, queue: queue, prefetch: max(prefetch, 1), deliver: h})
}

// startDurable begins consuming a durable queue on ch; gone closes when
// the channel does, for the deliveries' Gone.
func (s *sub) startDurable(ch *amqp091.Channel) (<-chan amqp091.Delivery, error) {
	if err := ch.Qos(s.prefetch, 0, false); err != nil {
		return nil, err
	}
	if err := declareDurable(ch, s.queue); err != nil {
		return nil, err
	}
	s.tag = "voicectl-" + bus.NewRequestID()
	return ch.Consume(s.queue, s.tag, false, false, false, false, nil)
}

// durable hands one message of a durable queue to the consumer.
func (s *sub) durable(d amqp091.Delivery, env bus.Envelope, gone <-chan struct{}) {
	if d.Redelivered {
		s.b.m.redeliveries.Inc()
	}
	s.deliver(bus.Delivery{Envelope: env, Gone: gone, Ack: func() error { return d.Ack(false) }})
}
