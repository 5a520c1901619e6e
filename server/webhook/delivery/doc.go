// Package delivery gets webhook events to where they go, never losing one
// silently: an Outbox on disk (outbox.go) keeps every event from the moment
// it is emitted until its Sink took it; Lanes (lanes.go) deliver them in
// order per room (webhook.Event.OrderKey), rooms independent of each other,
// retrying with backoff until webhooks.max_age, past which an event is
// logged in full and counted as failed. A Sink is the receivers over HTTP
// (single-node `serve`, and `voicectl api`) or the bus (a cluster server's
// events, which the API then delivers from a durable queue, consume.go).
//
// It knows the bus only through server/bus's interfaces; no bus library.
package delivery

import (
	"context"
	"encoding/json"

	"github.com/voicectl/voicectl/server/webhook"
)

// Item is one event on its way: the event, its JSON body as signed and
// sent (the same bytes on every try), and what to do once it is through.
type Item struct {
	Event webhook.Event
	Body  []byte
	// done is called once: delivered true when the sink took it, false
	// when it was given up (past webhooks.max_age).
	done func(delivered bool)
	// gone, when closed, says its owner took it back (a bus consumer's
	// channel went: the message is in the queue again): it is dropped
	// from the lane, not tried.
	gone <-chan struct{}
	// accepted are the URLs that answered 2xx already (an HTTP sink sends
	// each retry only to the others).
	accepted map[string]bool
}

// NewItem wraps an event; done may be nil.
func NewItem(ev webhook.Event, done func(delivered bool)) (*Item, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return &Item{Event: ev, Body: body, done: done}, nil
}

// Sink takes an event; an error means "try again later".
type Sink interface {
	Deliver(ctx context.Context, it *Item) error
	// Kind labels the metrics: "http" or "bus".
	Kind() string
}

// Emitter is what the room host and the API emit events through.
type Emitter interface {
	Emit(ev webhook.Event)
}
