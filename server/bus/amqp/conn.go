// Package amqp is the RabbitMQ adapter of server/bus, and the one package
// that imports amqp091-go. One connection per process, a publishing channel
// in confirm mode (which also receives replies by direct reply-to), a
// channel per consumer with prefetch 1 and manual acks. amqp091-go does not
// recover connections, so this package does: on a lost connection it dials
// again with backoff, declares everything again, restarts every consumer,
// and requests that were waiting for a reply are sent again (same request
// id: handlers are idempotent by it).
package amqp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/voicectl/voicectl/server/bus"
)

// Params configures a Bus.
type Params struct {
	// URL is amqp://user:password@host:port/vhost; it is never logged with
	// its password.
	URL    string
	Logger *slog.Logger
	// Registerer receives the adapter's metrics (nil: none).
	Registerer prometheus.Registerer
	// Name shows in the broker's connection list.
	Name string
	// ReconnectMin and ReconnectMax bound the backoff between dials.
	ReconnectMin, ReconnectMax time.Duration
}

// Bus is a bus.Bus over RabbitMQ.
type Bus struct {
	p   Params
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	conn    *amqp091.Connection
	pub     *amqp091.Channel
	up      chan struct{} // closed while a connection is up
	down    chan struct{} // closed when the current connection is lost
	pending map[string]chan reply
	subs    map[*sub]struct{}
	// declared are the durable queues declared on this connection.
	declared map[string]bool
	closed   bool
	pubMu    sync.Mutex
	stop     chan struct{}
	// reconnects counts connections made again, for whoever must tell its
	// own outage from its peers' silence.
	reconnects atomic.Uint64
	// downSince is when the connection was lost (zero while up), for
	// whoever shows an outage (bus.Outage).
	downSince time.Time
	wg        sync.WaitGroup
}

type reply struct {
	env      bus.Envelope
	returned bool // the broker had no queue for the request
}

var _ bus.Bus = (*Bus)(nil)

// Redact is a URL with its password replaced, for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Dial connects, retrying until ctx ends, and keeps the connection up until Close.
func Dial(ctx context.Context, p Params) (*Bus, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.ReconnectMin <= 0 {
		p.ReconnectMin = 100 * time.Millisecond
	}
	if p.ReconnectMax <= 0 {
		p.ReconnectMax = 5 * time.Second
	}
	b := &Bus{p: p, log: p.Logger.With("bus", Redact(p.URL)), m: newMetrics(p.Registerer), up: make(chan struct{}), down: make(chan struct{}),
		pending: map[string]chan reply{}, subs: map[*sub]struct{}{}, stop: make(chan struct{})}
	lost, err := b.connectRetrying(ctx, false)
	if err != nil {
		return nil, err
	}
	b.wg.Add(1)
	go b.supervise(lost)
	return b, nil
}

// connectRetrying dials with backoff until it is connected, ctx ends or the bus closes.
func (b *Bus) connectRetrying(ctx context.Context, again bool) (chan *amqp091.Error, error) {
	wait := b.p.ReconnectMin
	for {
		lost, err := b.connect(again)
		if err == nil {
			return lost, nil
		}
		if errors.Is(err, bus.ErrClosed) {
			return nil, err
		}
		b.log.Warn("cannot reach RabbitMQ; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rabbitmq %s: %w (last error: %v)", Redact(b.p.URL), ctx.Err(), err)
		case <-b.stop:
			return nil, bus.ErrClosed
		case <-time.After(wait):
		}
		wait = min(2*wait, b.p.ReconnectMax)
	}
}

// connect dials, declares the exchanges, opens the publishing channel and
// restarts every consumer.
func (b *Bus) connect(again bool) (chan *amqp091.Error, error) {
	name := b.p.Name
	if name == "" {
		name = "voicectl"
	}
	conn, err := amqp091.DialConfig(b.p.URL, amqp091.Config{Heartbeat: 5 * time.Second, Locale: "en_US",
		Properties: amqp091.Table{"connection_name": name}})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (chan *amqp091.Error, error) {
		_ = conn.Close()
		return nil, err
	}
	pub, err := conn.Channel()
	if err != nil {
		return fail(err)
	}
	if err := declareExchanges(pub); err != nil {
		return fail(err)
	}
	if err := pub.Confirm(false); err != nil {
		return fail(err)
	}
	replies, err := pub.Consume(replyTo, "", true, false, false, false, nil)
	if err != nil {
		return fail(err)
	}
	returns := pub.NotifyReturn(make(chan amqp091.Return, 16))
	lost := conn.NotifyClose(make(chan *amqp091.Error, 1))

	b.mu.Lock()
	if b.closed {
		// Close ran while this connection was being made: it closed the one
		// before, so this one is ours to close, or its reader keeps Close
		// waiting for ever.
		b.mu.Unlock()
		return fail(bus.ErrClosed)
	}
	b.conn, b.pub = conn, pub
	b.declared = map[string]bool{}
	subs := make([]*sub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		if err := s.start(conn); err != nil {
			return fail(fmt.Errorf("consume %s: %w", s.queue, err))
		}
	}
	b.wg.Add(1)
	go b.readReplies(replies, returns)
	if again {
		b.m.reconnects.Inc() // before anyone waiting on up sees the connection
		b.reconnects.Add(1)
	}
	b.mu.Lock()
	close(b.up)
	b.downSince = time.Time{}
	b.mu.Unlock()
	b.m.connected.Set(1)
	return lost, nil
}

// supervise reconnects whenever the connection is lost, until Close.
func (b *Bus) supervise(lost chan *amqp091.Error) {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case err := <-lost:
			b.m.connected.Set(0)
			b.mu.Lock()
			close(b.down)
			b.up, b.down = make(chan struct{}), make(chan struct{})
			b.downSince = time.Now()
			b.mu.Unlock()
			b.log.Warn("lost the RabbitMQ connection; reconnecting", "err", err)
			next, cerr := b.connectRetrying(context.Background(), true)
			if cerr != nil {
				return // closed meanwhile
			}
			b.log.Info("reconnected to RabbitMQ")
			lost = next
		}
	}
}

func (b *Bus) readReplies(replies <-chan amqp091.Delivery, returns <-chan amqp091.Return) {
	defer b.wg.Done()
	for replies != nil || returns != nil {
		select {
		case d, ok := <-replies:
			if !ok {
				replies = nil
				continue
			}
			env, err := decode(d.Body)
			if err != nil {
				b.m.rejected.Inc()
				continue
			}
			b.deliverReply(d.CorrelationId, reply{env: env})
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			b.deliverReply(r.CorrelationId, reply{returned: true})
		}
	}
}

func (b *Bus) deliverReply(corr string, r reply) {
	b.mu.Lock()
	ch := b.pending[corr]
	b.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default: // a reply to a request answered already (sent twice across a reconnect)
		}
	}
}

// connection returns the live publishing channel and the channel closed when
// it is lost, waiting for a reconnect if needed.
func (b *Bus) connection(ctx context.Context) (*amqp091.Channel, chan struct{}, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, nil, bus.ErrClosed
		}
		up, down, pub := b.up, b.down, b.pub
		b.mu.Unlock()
		select {
		case <-up:
			return pub, down, nil
		default:
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-b.stop:
			return nil, nil, bus.ErrClosed
		}
	}
}

var errUnconfirmed = errors.New("rabbitmq did not confirm the message")

// publish sends one message and waits for the broker's confirm.
func (b *Bus) publish(ctx context.Context, kind, exchange, key string, mandatory bool, msg amqp091.Publishing) error {
	pub, _, err := b.connection(ctx)
	if err != nil {
		return err
	}
	b.pubMu.Lock()
	dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
	b.pubMu.Unlock()
	if err != nil {
		return err
	}
	b.m.published.WithLabelValues(kind).Inc()
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		b.m.confirms.WithLabelValues("nack").Inc()
		return errUnconfirmed
	}
	b.m.confirms.WithLabelValues("ack").Inc()
	return nil
}

// Connected reports whether the connection is up now.
func (b *Bus) Connected() bool {
	b.mu.Lock()
	up := b.up
	b.mu.Unlock()
	select {
	case <-up:
		return true
	default:
		return false
	}
}

var _ bus.Outage = (*Bus)(nil)

// DownSince is when the connection was lost; zero while it is up.
func (b *Bus) DownSince() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.downSince
}

// Reconnects counts connections made again since Dial.
func (b *Bus) Reconnects() uint64 { return b.reconnects.Load() }

// Close ends every consumer and the connection, and waits for them.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*sub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	conn := b.conn
	b.mu.Unlock()
	close(b.stop)
	for _, s := range subs {
		_ = s.Cancel()
	}
	if conn != nil {
		_ = conn.Close()
	}
	b.wg.Wait()
	b.m.connected.Set(0)
	return nil
}
