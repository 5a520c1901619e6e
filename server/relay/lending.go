package relay

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
)

// LentRouters is the routers this server lends (roomhost.Lender): what an
// owner's call may touch, and whose room a worker event is about.
type LentRouters interface {
	Lender
	// OwnerOf names the owner of the room ev is about, when it is about
	// a lent router.
	OwnerOf(ev ipc.Event) (cluster.ServerID, bool)
}

// Workers reaches this server's workers by index (the supervisor).
type Workers interface {
	Len() int
	// Call sends a raw request to worker i, or fails with
	// ipc.ErrWorkerDown while it is not up.
	Call(ctx context.Context, i int, method string, params, out any) error
}

// LendingParams configures a Lending.
type LendingParams struct {
	Logger   *slog.Logger
	ServerID cluster.ServerID
	Bus      bus.Bus
	Lent     LentRouters
	Workers  Workers
	// PublishTimeout bounds sending one event (default DefaultTryTimeout).
	PublishTimeout time.Duration
}

// Lending is a relay's side of relays: it serves the owners' worker calls
// for the routers lent to them (Server), and sends the workers' events
// about those routers to the rooms' owners, in the order the workers sent
// them.
type Lending struct {
	p      LendingParams
	log    *slog.Logger
	server Server

	events  chan relayedEvent
	stop    chan struct{}
	done    chan struct{}
	started bool
}

type relayedEvent struct {
	owner cluster.ServerID
	ev    cluster.WorkerEvent
}

// eventBacklog is how many events may wait for the bus before they are
// dropped.
const eventBacklog = 4096

// NewLending prepares a Lending; events are sent once it Starts.
func NewLending(p LendingParams) *Lending {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.PublishTimeout <= 0 {
		p.PublishTimeout = DefaultTryTimeout
	}
	l := &Lending{p: p, log: p.Logger, events: make(chan relayedEvent, eventBacklog),
		stop: make(chan struct{}), done: make(chan struct{})}
	l.server = Server{Self: p.ServerID, Lender: p.Lent, Worker: func(i int) ipc.Caller {
		if i < 0 || i >= p.Workers.Len() {
			return nil
		}
		return ipc.CallerFunc(func(ctx context.Context, method string, params, out any) error {
			return p.Workers.Call(ctx, i, method, params, out)
		})
	}}
	return l
}

// Start begins sending relayed events; call it once, and Close after.
func (l *Lending) Start() {
	l.started = true
	go l.sendEvents()
}

// Close stops sending events; those not yet sent are dropped.
func (l *Lending) Close() {
	if !l.started {
		return
	}
	close(l.stop)
	<-l.done
}

// ServeCall runs an owner's worker request on one of this server's
// workers, within what the owner's relay routers here may touch.
func (l *Lending) ServeCall(ctx context.Context, from cluster.ServerID, call bus.WorkerCall) (json.RawMessage, error) {
	return l.server.Call(ctx, from, call)
}

// WorkerEvent sends an event of a router lent here to the room's owner;
// false when it is not about one (the event is this server's own).
func (l *Lending) WorkerEvent(from cluster.WorkerRef, method string, raw []byte, ev ipc.Event) bool {
	owner, ok := l.p.Lent.OwnerOf(ev)
	if !ok {
		return false
	}
	select {
	case l.events <- relayedEvent{owner: owner, ev: cluster.WorkerEvent{Worker: from, Method: method, Params: raw}}:
	default:
		// The bus is far behind; the owner's lanes order what does arrive.
		l.log.Warn("relay event dropped: the bus is not keeping up", "owner", owner, "event", method)
	}
	return true
}

// sendEvents publishes relayed events in the order the workers sent them.
func (l *Lending) sendEvents() {
	defer close(l.done)
	for {
		var e relayedEvent
		select {
		case <-l.stop:
			return
		case e = <-l.events:
		}
		body, err := json.Marshal(e.ev)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.p.PublishTimeout)
		err = l.p.Bus.Publish(ctx, bus.WorkerEventKey(e.owner), bus.Envelope{Type: bus.TypeWorkerEvent, From: l.p.ServerID, Body: body})
		cancel()
		if err != nil {
			l.log.Warn("relay event not sent", "owner", e.owner, "event", e.ev.Method, "err", err)
		}
	}
}
