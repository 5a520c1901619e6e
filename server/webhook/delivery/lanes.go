package delivery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// LanesParams configures Lanes.
type LanesParams struct {
	Logger  *slog.Logger
	Sink    Sink
	Metrics *Metrics
	// RetryMin and RetryMax bound the backoff between tries of one event.
	RetryMin, RetryMax time.Duration
	// MaxAge is how old (since its Time) an event may get while failing
	// before it is given up, logged in full.
	MaxAge time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Lanes deliver items in order per order key, each key on its own
// goroutine (started when the key has items, ended when it has none), so a
// room whose events keep failing holds up only itself.
type Lanes struct {
	p   LanesParams
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	queues map[string][]*Item
	closed bool
}

// NewLanes returns running lanes; Close stops them.
func NewLanes(p LanesParams) *Lanes {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Metrics == nil {
		p.Metrics = NewMetrics(nil)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Lanes{p: p, log: p.Logger, ctx: ctx, cancel: cancel, queues: map[string][]*Item{}}
}

// Add queues it behind the items of its key. After Close it is dropped
// from memory only: its owner (the outbox, the bus) still holds it.
func (l *Lanes) Add(it *Item) {
	key := it.Event.OrderKey()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.p.Metrics.pending.WithLabelValues(l.p.Sink.Kind()).Inc()
	q, running := l.queues[key]
	l.queues[key] = append(q, it)
	if !running {
		l.wg.Add(1)
		go l.run(key)
	}
}

// run delivers key's items one after the other until it has none.
func (l *Lanes) run(key string) {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		q := l.queues[key]
		if l.closed {
			l.mu.Unlock()
			return // Close counts what is left
		}
		if len(q) == 0 {
			delete(l.queues, key)
			l.mu.Unlock()
			return
		}
		it := q[0]
		l.mu.Unlock()
		if !l.deliver(it) {
			return // closed
		}
		l.mu.Lock()
		l.queues[key] = l.queues[key][1:]
		l.mu.Unlock()
	}
}

// deliver tries it until the sink takes it or it is too old; false when
// the lanes closed first (it stays with its owner, for the next start).
func (l *Lanes) deliver(it *Item) bool {
	kind := l.p.Sink.Kind()
	wait := l.p.RetryMin
	for tries := 1; ; tries++ {
		if it.taken() {
			l.p.Metrics.pending.WithLabelValues(kind).Dec()
			return true
		}
		err := l.p.Sink.Deliver(l.ctx, it)
		if l.ctx.Err() != nil {
			return false
		}
		if err == nil {
			l.p.Metrics.delivered.WithLabelValues(kind).Inc()
			l.p.Metrics.pending.WithLabelValues(kind).Dec()
			if it.done != nil {
				it.done(true)
			}
			return true
		}
		if age := l.p.Now().Sub(it.Event.Time); age > l.p.MaxAge {
			l.p.Metrics.failed.WithLabelValues(FailedMaxAge).Inc()
			l.p.Metrics.pending.WithLabelValues(kind).Dec()
			l.log.Error("webhook event given up after webhooks.max_age; here it is in full", "to", kind, "event", string(it.Body),
				"tries", tries, "age", age.Round(time.Second), "last_err", err)
			if it.done != nil {
				it.done(false)
			}
			return true
		}
		l.p.Metrics.retried.WithLabelValues(kind).Inc()
		if tries == 1 || tries%10 == 0 {
			l.log.Warn("webhook event not delivered; retrying", "to", kind, "id", it.Event.ID, "type", it.Event.Type,
				"room", it.Event.Room, "tries", tries, "in", wait, "err", err)
		}
		// Jitter of ±20% spreads the retries of many rooms after an outage.
		d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-l.ctx.Done():
			return false
		case <-time.After(d):
		}
		wait = min(2*wait, l.p.RetryMax)
	}
}

// Pending counts items not yet through.
func (l *Lanes) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, q := range l.queues {
		n += len(q)
	}
	return n
}

// Close stops every lane (a try in flight is cancelled) and waits for them.
func (l *Lanes) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	for _, q := range l.queues {
		l.p.Metrics.pending.WithLabelValues(l.p.Sink.Kind()).Sub(float64(len(q)))
	}
	l.queues = map[string][]*Item{}
	l.mu.Unlock()
}

// taken reports an item its owner took back.
func (it *Item) taken() bool {
	select {
	case <-it.gone:
		return true
	default:
		return false
	}
}
