package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/voicectl/voicectl/server/bus"
)

func decode(body []byte) (bus.Envelope, error) {
	var env bus.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, err
	}
	if env.Type == "" {
		return env, errors.New("no message type")
	}
	return env, nil
}

// Request implements bus.Bus: it publishes req (persistent, mandatory,
// confirmed) with a correlation id and waits for the reply. When the
// connection drops before the reply comes, it sends req again once the bus
// is back; the handler answers the same request id once.
func (b *Bus) Request(ctx context.Context, dst bus.Destination, req bus.Envelope) (bus.Envelope, error) {
	if req.RequestID == "" {
		req.RequestID = bus.NewRequestID()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return bus.Envelope{}, err
	}
	corr := bus.NewRequestID()
	replies := make(chan reply, 1)
	b.mu.Lock()
	b.pending[corr] = replies
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, corr)
		b.mu.Unlock()
	}()
	for {
		_, down, err := b.connection(ctx)
		if err != nil {
			return bus.Envelope{}, err
		}
		msg := amqp091.Publishing{ContentType: "application/json", DeliveryMode: amqp091.Persistent, CorrelationId: corr,
			ReplyTo: replyTo, MessageId: req.RequestID, Type: req.Type, Timestamp: time.Now(), Body: body}
		if dl, ok := ctx.Deadline(); ok {
			// The broker drops a request nobody took in time.
			msg.Expiration = strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10)
		}
		if err := b.publish(ctx, "request", dst.Exchange, dst.Key, true, msg); err != nil {
			if ctx.Err() != nil {
				return bus.Envelope{}, ctx.Err()
			}
			if errors.Is(err, bus.ErrClosed) {
				return bus.Envelope{}, err
			}
			b.log.Debug("request not confirmed; sending it again", "type", req.Type, "err", err)
			b.waitLost(ctx, down)
			continue
		}
		select {
		case r := <-replies:
			if r.returned {
				return bus.Envelope{}, bus.ErrNoRoute
			}
			return r.env, nil
		case <-down:
			continue // the reply would have come on the lost channel: ask again
		case <-ctx.Done():
			return bus.Envelope{}, ctx.Err()
		case <-b.stop:
			return bus.Envelope{}, bus.ErrClosed
		}
	}
}

// waitLost waits a moment for a failing connection to be noticed, so a retry
// does not spin on a channel that is closing.
func (b *Bus) waitLost(ctx context.Context, down chan struct{}) {
	select {
	case <-down:
	case <-ctx.Done():
	case <-b.stop:
	case <-time.After(b.p.ReconnectMin):
	}
}

// Publish implements bus.Bus: a confirmed, transient event on the events exchange.
func (b *Bus) Publish(ctx context.Context, key string, ev bus.Envelope) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return b.publish(ctx, "event", bus.EventsExchange, key, false, amqp091.Publishing{ContentType: "application/json",
		Type: ev.Type, Timestamp: time.Now(), Body: body})
}

// reply answers a delivered request on its reply-to.
func (b *Bus) reply(ctx context.Context, d amqp091.Delivery, env bus.Envelope) error {
	body, err := json.Marshal(env)
	if err != nil {
		return err
	}
	return b.publish(ctx, "reply", "", d.ReplyTo, false, amqp091.Publishing{ContentType: "application/json",
		CorrelationId: d.CorrelationId, Type: env.Type, Timestamp: time.Now(), Body: body})
}
