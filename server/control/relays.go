package control

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/relay"
	"github.com/voicectl/voicectl/server/roomhost"
)

// relayTryTimeout bounds one server's answer to a relay request, so a slow
// one leaves time to ask the next.
const relayTryTimeout = 2 * time.Second

// relays is this server's side of relays both ways: as an owner it finds
// relay routers on other servers (roomhost.Relays) and reaches them, as a
// relay it serves its workers to owners and sends the workers' events for
// their rooms back.
type relays struct {
	c *Control

	mu      sync.Mutex
	clients map[cluster.WorkerRef]ipc.WorkerClient

	events chan relayedEvent
	stop   chan struct{}
	done   chan struct{}
	sub    bus.Subscription
}

type relayedEvent struct {
	owner cluster.ServerID
	ev    cluster.WorkerEvent
}

func newRelays(c *Control) *relays {
	return &relays{c: c, clients: map[cluster.WorkerRef]ipc.WorkerClient{}, events: make(chan relayedEvent, 4096),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// start receives the owners' side of relayed events and starts sending
// ours.
func (rl *relays) start() error {
	sub, err := rl.c.bus.Subscribe(bus.WorkerEventKey(rl.c.serverID), rl.onEvent)
	if err != nil {
		return err
	}
	rl.sub = sub
	go rl.sendEvents()
	return nil
}

func (rl *relays) close() {
	if rl.sub == nil {
		return
	}
	_ = rl.sub.Cancel()
	close(rl.stop)
	<-rl.done
}

// Place implements roomhost.Relays: the servers already relaying the room
// first, then the others the heartbeats show below high water, least
// stressed first.
func (rl *relays) Place(ctx context.Context, req roomhost.RelayRequest) (roomhost.RelayRouter, error) {
	a := rl.c.agent
	if a == nil {
		return roomhost.RelayRouter{}, roomhost.ErrNoCapacity
	}
	order := []cluster.ServerID{}
	for _, s := range req.Prefer {
		if s != rl.c.serverID && a.Alive(s) && !a.Draining(s) {
			order = append(order, s)
		}
	}
	for _, s := range a.Candidates(rl.c.cfg.Cluster.HighWater) {
		if !slices.Contains(order, s) {
			order = append(order, s)
		}
	}
	msg := cluster.RelayPlace{Room: req.Room, Owner: rl.c.serverID, Peer: req.Peer, Publish: req.Publish,
		MaxForwardedSpeakers: rl.c.cfg.Room.MaxForwardedSpeakers, Publishers: req.Publishers}
	for _, s := range order {
		tctx, cancel := context.WithTimeout(ctx, relayTryTimeout)
		placed, err := bus.PlaceRelay.Call(tctx, rl.c.bus, bus.ToServer(s), rl.c.serverID, "", msg)
		cancel()
		if err == nil && placed.Worker.Server != s {
			err = errors.New("relay answered for another server")
		}
		if err != nil {
			var be *bus.Error
			if !errors.As(err, &be) || be.Code != bus.CodeNoCapacity {
				rl.c.log.Warn("relay request failed", "server", s, "room", req.Room, "err", err)
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		a.Placed(s)
		return roomhost.RelayRouter{Ref: placed.Worker, RouterID: placed.RouterID, Client: rl.client(placed.Worker)}, nil
	}
	return roomhost.RelayRouter{}, roomhost.ErrNoCapacity
}

// client is the WorkerClient of a worker on another server; calls to a
// server the heartbeats show dead fail at once.
func (rl *relays) client(ref cluster.WorkerRef) ipc.WorkerClient {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	c := rl.clients[ref]
	if c == nil {
		c = ipc.NewClient(ref, relay.Caller{Bus: rl.c.bus, From: rl.c.serverID, To: ref, Down: func() bool {
			a := rl.c.agent
			return a != nil && !a.Alive(ref.Server)
		}})
		rl.clients[ref] = c
	}
	return c
}

// serveCall runs an owner's worker request on one of this server's
// workers, within what the owner's relay routers here may touch.
func (rl *relays) serveCall(ctx context.Context, from cluster.ServerID, call bus.WorkerCall) (json.RawMessage, error) {
	c := rl.c
	return relay.Server{Self: c.serverID, Lender: c.host.Lender(), Worker: func(i int) ipc.Caller {
		if i < 0 || i >= c.sup.Len() {
			return nil
		}
		return ipc.CallerFunc(func(ctx context.Context, method string, params, out any) error {
			return c.sup.Call(ctx, i, method, params, out)
		})
	}}.Call(ctx, from, call)
}

// workerEvent sends an event of a relay router here to the room's owner;
// false when it is not about one.
func (rl *relays) workerEvent(from cluster.WorkerRef, method string, raw []byte, ev ipc.Event) bool {
	owner, ok := rl.c.host.Lender().OwnerOf(ev)
	if !ok {
		return false
	}
	select {
	case rl.events <- relayedEvent{owner: owner, ev: cluster.WorkerEvent{Worker: from, Method: method, Params: raw}}:
	default:
		// The bus is far behind; the owner's lanes order what does arrive.
		rl.c.log.Warn("relay event dropped: the bus is not keeping up", "owner", owner, "event", method)
	}
	return true
}

// sendEvents publishes relayed events in the order the workers sent them.
func (rl *relays) sendEvents() {
	defer close(rl.done)
	for {
		var e relayedEvent
		select {
		case <-rl.stop:
			return
		case e = <-rl.events:
		}
		body, err := json.Marshal(e.ev)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), relayTryTimeout)
		err = rl.c.bus.Publish(ctx, bus.WorkerEventKey(e.owner), bus.Envelope{Type: bus.TypeWorkerEvent, From: rl.c.serverID, Body: body})
		cancel()
		if err != nil {
			rl.c.log.Warn("relay event not sent", "owner", e.owner, "event", e.ev.Method, "err", err)
		}
	}
}

// onEvent takes a relay's event for one of our rooms.
func (rl *relays) onEvent(env bus.Envelope) {
	var we cluster.WorkerEvent
	if err := json.Unmarshal(env.Body, &we); err != nil || we.Worker.Server != env.From || env.From == "" {
		rl.c.log.Warn("bad relay event", "from", env.From)
		return
	}
	ev, err := ipc.DecodeEvent(we.Method, we.Params)
	if err != nil {
		rl.c.log.Warn("bad relay event", "from", env.From, "err", err)
		return
	}
	rl.c.host.HandleEvent(we.Worker, ev)
}
