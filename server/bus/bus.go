// Package bus is the cluster's control plane as ports: typed requests with
// replies between servers and the API, events (heartbeats) for whoever
// listens, and the queues they travel on. It knows nothing of RabbitMQ: the
// adapter in bus/amqp implements Bus over it, and Local implements it in
// process (unit tests, a single process).
package bus

import (
	"context"
	"encoding/json"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
)

// Queue and exchange names (see docs/api.md and ../shared/design.md).
const (
	// RoomsQueue is the shared queue of room-create requests that every server
	// with spare capacity consumes, so the broker hands rooms round-robin.
	RoomsQueue = "voice.rooms"
	// DirectExchange routes commands to one server's own queue by its id.
	DirectExchange = "voice.direct"
	// EventsExchange is the topic exchange for heartbeats and room events.
	EventsExchange = "voice.events"
)

// ServerQueue is the durable queue of one server's commands.
func ServerQueue(id cluster.ServerID) string { return "voice.server." + string(id) }

// Destination is where a request goes: a queue by name (through the default
// exchange), or an exchange and routing key; Server names the server a
// command is for, when it is for one.
type Destination struct {
	Exchange string
	Key      string
	Server   cluster.ServerID
}

// ToQueue addresses a queue by name.
func ToQueue(name string) Destination { return Destination{Key: name} }

// ToServer addresses one server's own queue.
func ToServer(id cluster.ServerID) Destination {
	return Destination{Exchange: DirectExchange, Key: string(id), Server: id}
}

// WorkersQueue is the queue of worker calls for one server's relay routers:
// served by several consumers at once, since every relayed join makes a few
// and none waits on another (an owner sends one transport's calls one after
// the other).
func WorkersQueue(id cluster.ServerID) string { return ServerQueue(id) + ".workers" }

// ToWorkers addresses WorkersQueue(id).
func ToWorkers(id cluster.ServerID) Destination {
	return Destination{Exchange: DirectExchange, Key: string(id) + ".workers", Server: id}
}

// Envelope is one message on the bus: a typed body and what routes it.
type Envelope struct {
	Type string `json:"type"`
	// RequestID identifies a request across redeliveries and retries: a
	// handler answers the same id with the same reply and does the work once.
	RequestID string           `json:"request_id,omitempty"`
	From      cluster.ServerID `json:"from,omitempty"`
	// To is the server a command is for; a server refuses one for another.
	To cluster.ServerID `json:"to,omitempty"`
	// Deadline (Unix ms) is when the requester stops waiting; a request found
	// after it is dropped, not served late.
	Deadline int64           `json:"deadline,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
	Error    *Error          `json:"error,omitempty"`
}

// Expired reports whether a request's requester has stopped waiting.
func (e Envelope) Expired(now time.Time) bool { return e.Deadline > 0 && now.UnixMilli() > e.Deadline }

// Handler serves a request; its reply (or error) goes back to the requester.
type Handler func(ctx context.Context, req Envelope) (reply any, err error)

// Subscription is a running consumer.
type Subscription interface {
	// Cancel stops consuming; a request being served is finished first.
	Cancel() error
}

// Bus is the control-plane transport.
type Bus interface {
	// Request sends req to dst and waits for the reply until ctx ends. A
	// request that is not answered before the connection drops is sent again,
	// with the same request id, once it is back.
	Request(ctx context.Context, dst Destination, req Envelope) (Envelope, error)
	// Publish sends an event on EventsExchange with a routing key.
	Publish(ctx context.Context, key string, ev Envelope) error
	// Serve consumes a durable queue, one request at a time, until cancelled.
	Serve(queue string, h Handler) (Subscription, error)
	// Subscribe receives the events whose key matches a topic pattern.
	Subscribe(pattern string, h func(Envelope)) (Subscription, error)
	// Close ends every subscription and the connection.
	Close() error
	Durable
}

// WebhooksQueue is the durable queue of webhook events: the servers (and
// the API, for its own events) enqueue them, the API delivers them to the
// receivers and acks each only once they took it (docs/webhooks.md).
const WebhooksQueue = "voice.webhooks"

// Durable is a queue that keeps each message (persistent, confirmed by the
// broker) until a consumer acks it. Its one active consumer at a time gets
// them in order, up to prefetch unacked at once; when that consumer goes
// (cancelled, its connection or process lost) what it had not acked goes
// back to the queue, ahead of the rest, for the next consumer.
type Durable interface {
	// Enqueue adds env to queue and returns once the broker has it.
	Enqueue(ctx context.Context, queue string, env Envelope) error
	// Consume hands queue's messages to h, in order, until cancelled.
	Consume(queue string, prefetch int, h func(Delivery)) (Subscription, error)
}

// Delivery is a message of a durable queue, the consumer's until acked.
type Delivery struct {
	Envelope
	// Ack removes it from the queue; after Gone it fails (the message is
	// back in the queue).
	Ack func() error
	// Gone is closed when the consumer that got it went: it is in the
	// queue again and will be delivered again.
	Gone <-chan struct{}
}

// Health is what a Bus that can lose its connection may tell: whether it is
// connected, and how many times it connected again. The API uses it to tell
// its own outage from servers' silence.
type Health interface {
	Connected() bool
	Reconnects() uint64
}
