package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/webhook"
)

// TypeWebhook is the bus envelope type of a webhook event.
const TypeWebhook = "webhook.event"

// BusSink hands events to the durable webhooks queue (confirmed by the
// broker): a cluster server's (and the API's own) way to the API's Consumer.
type BusSink struct {
	Bus  bus.Durable
	From cluster.ServerID
	// Timeout bounds one publish and its confirm.
	Timeout time.Duration
}

// Kind implements Sink.
func (s *BusSink) Kind() string { return "bus" }

// Deliver implements Sink.
func (s *BusSink) Deliver(ctx context.Context, it *Item) error {
	ctx, cancel := context.WithTimeout(ctx, max(s.Timeout, time.Second))
	defer cancel()
	return s.Bus.Enqueue(ctx, bus.WebhooksQueue, bus.Envelope{Type: TypeWebhook, RequestID: it.Event.ID, From: s.From, Body: it.Body})
}

// Consume delivers the durable webhooks queue through lanes (an HTTP
// sink), acking each message once the receivers took it, or once it was
// given up past max_age (logged in full, counted). prefetch bounds what is
// held unacked (webhooks.in_flight).
func Consume(d bus.Durable, lanes *Lanes, prefetch int, log *slog.Logger, m *Metrics) (bus.Subscription, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return d.Consume(bus.WebhooksQueue, prefetch, func(dl bus.Delivery) {
		var ev webhook.Event
		if err := json.Unmarshal(dl.Body, &ev); err != nil || dl.Type != TypeWebhook || ev.ID == "" {
			m.failed.WithLabelValues(FailedMalformed).Inc()
			log.Error("not a webhook event on the webhooks queue; dropped", "type", dl.Type, "from", dl.From, "body", string(dl.Body), "err", err)
			_ = dl.Ack()
			return
		}
		ack := dl.Ack
		lanes.Add(&Item{Event: ev, Body: dl.Body, gone: dl.Gone, done: func(bool) {
			if err := ack(); err != nil {
				log.Debug("webhook ack lost with its channel; the event comes again", "id", ev.ID, "err", err)
			}
		}})
	})
}
