package relay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

// DefaultTryTimeout bounds one server's answer to a relay request, so a slow
// one leaves time to ask the next.
const DefaultTryTimeout = 2 * time.Second

// BorrowerParams configures a Borrower.
type BorrowerParams struct {
	Logger   *slog.Logger
	ServerID cluster.ServerID
	Bus      bus.Bus
	// HighWater: servers above it are not asked for a relay.
	HighWater float64
	// MaxForwardedSpeakers is sent with each request: the relay's router
	// forwards as many speakers as the owner's.
	MaxForwardedSpeakers int
	// TryTimeout bounds one server's answer (default DefaultTryTimeout).
	TryTimeout time.Duration
	// OnEvent hears the events of this server's relay routers elsewhere
	// (the room host's HandleEvent); required.
	OnEvent func(from cluster.WorkerRef, ev ipc.Event)
}

// Borrower is a room owner's side of relays (roomhost.Relays): it finds
// relay routers on other servers, keeps the WorkerClients that reach their
// workers over the bus, and takes the events those servers send back for
// this server's rooms.
type Borrower struct {
	p   BorrowerParams
	log *slog.Logger

	mu      sync.Mutex
	peers   Peers // nil until Start
	sub     bus.Subscription
	clients map[cluster.WorkerRef]ipc.WorkerClient
	closed  bool

	tries atomic.Uint64
	// releasing counts the releases still being sent in the background
	// (abandoned tries, unanswered closes); stop ends them.
	releasing sync.WaitGroup
	stop      chan struct{}
}

// resendEvery is how often a release a relay did not answer is sent again,
// and resendFor how long: a relay alive all that time but never answering
// is logged as keeping what it was told to close.
const (
	resendEvery = time.Second
	resendFor   = 2 * time.Minute
)

var _ roomhost.Relays = (*Borrower)(nil)

// NewBorrower prepares a Borrower; it places nothing until Start.
func NewBorrower(p BorrowerParams) *Borrower {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.TryTimeout <= 0 {
		p.TryTimeout = DefaultTryTimeout
	}
	return &Borrower{p: p, log: p.Logger, clients: map[cluster.WorkerRef]ipc.WorkerClient{}, stop: make(chan struct{})}
}

// Start receives the relayed events for this server's rooms and places
// relays on the servers peers shows (the agent, which exists only once
// the server joined the cluster).
func (b *Borrower) Start(peers Peers) error {
	sub, err := b.p.Bus.Subscribe(bus.WorkerEventKey(b.p.ServerID), b.onEvent)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.peers, b.sub = peers, sub
	b.mu.Unlock()
	return nil
}

// Close stops taking relayed events and waits for the releases of
// abandoned tries still being sent.
func (b *Borrower) Close() {
	b.mu.Lock()
	sub := b.sub
	b.sub = nil
	if !b.closed {
		close(b.stop)
	}
	b.closed = true
	b.mu.Unlock()
	if sub != nil {
		_ = sub.Cancel()
	}
	b.releasing.Wait()
}

func (b *Borrower) view() Peers {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peers
}

// Place implements roomhost.Relays: the servers already relaying the room
// first, then the others the heartbeats show below high water, least
// stressed first; this server, and dead or draining ones, never. A server
// that refuses, fails or does not answer within TryTimeout leaves the
// request to the next; one that may have reserved room for the peer all the
// same (it did not answer in time, or answered with another server's
// router) is told to give that try's reservation back.
func (b *Borrower) Place(ctx context.Context, req roomhost.RelayRequest) (roomhost.RelayRouter, error) {
	peers := b.view()
	if peers == nil {
		return roomhost.RelayRouter{}, roomhost.ErrNoCapacity
	}
	self := b.p.ServerID
	order := []cluster.ServerID{}
	for _, s := range req.Prefer {
		if s != self && peers.Alive(s) && !peers.Draining(s) {
			order = append(order, s)
		}
	}
	for _, s := range peers.Candidates(b.p.HighWater) {
		if !slices.Contains(order, s) {
			order = append(order, s)
		}
	}
	msg := cluster.RelayPlace{Room: req.Room, Owner: self, Peer: req.Peer, Publish: req.Publish,
		MaxForwardedSpeakers: b.p.MaxForwardedSpeakers, Publishers: req.Publishers}
	for _, s := range order {
		msg.Try = strconv.FormatUint(b.tries.Add(1), 36)
		tctx, cancel := context.WithTimeout(ctx, b.p.TryTimeout)
		placed, err := bus.PlaceRelay.Call(tctx, b.p.Bus, bus.ToServer(s), self, "", msg)
		cancel()
		if err == nil && placed.Worker.Server != s {
			err = errOtherServer
		}
		if err != nil {
			if wire.CodeOf(err) != wire.CodeNoCapacity {
				b.log.Warn("relay request failed", "server", s, "room", req.Room, "err", err)
				b.giveBack(s, cluster.RelayRelease{Room: req.Room, Peer: req.Peer, Try: msg.Try})
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		peers.Placed(s)
		return roomhost.RelayRouter{Ref: placed.Worker, RouterID: placed.RouterID, Client: b.client(placed.Worker)}, nil
	}
	return roomhost.RelayRouter{}, roomhost.ErrNoCapacity
}

// giveBack tells server s, in the background, to release what an abandoned
// try may have reserved there (a refusal reserved nothing). The relay also
// gives back a reservation it made after the try's deadline; this covers an
// answer that crossed the deadline on its way back.
func (b *Borrower) giveBack(s cluster.ServerID, r cluster.RelayRelease) {
	b.inBackground(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.p.TryTimeout)
		defer cancel()
		if _, err := bus.ReleaseRelay.Call(ctx, b.p.Bus, bus.ToServer(s), b.p.ServerID, "", r); err != nil {
			b.log.Warn("relay release failed: that server may keep a reservation for a peer placed elsewhere", "server", s, "room", r.Room, "peer", r.Peer, "err", err)
		}
	})
}

// inBackground runs send in a goroutine that Close waits for; once the
// Borrower closed it runs nothing.
func (b *Borrower) inBackground(send func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.releasing.Add(1)
	go func() {
		defer b.releasing.Done()
		send()
	}()
}

// client is the WorkerClient of a worker on another server, one per
// worker; calls to a server the heartbeats show dead fail at once.
func (b *Borrower) client(ref cluster.WorkerRef) ipc.WorkerClient {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.clients[ref]
	if c == nil {
		caller := b.caller(ref)
		caller.Resend = func(method string, params any) { b.resend(ref, method, params) }
		c = ipc.NewClient(ref, caller)
		b.clients[ref] = c
	}
	return c
}

// caller reaches worker ref over the bus, failing at once once the
// heartbeats show its server dead.
func (b *Borrower) caller(ref cluster.WorkerRef) Caller {
	return Caller{Bus: b.p.Bus, From: b.p.ServerID, To: ref, Down: func() bool {
		peers := b.view()
		return peers != nil && !peers.Alive(ref.Server)
	}}
}

// resend sends a release that worker to did not answer in time again, in
// the background, every resendEvery until it is answered (a "not found"
// too: the first one got there late), its server is declared dead (what
// it lent dies with it, or is dropped when it finds this owner gone), the
// Borrower closes, or resendFor has passed.
func (b *Borrower) resend(to cluster.WorkerRef, method string, params any) {
	b.log.Warn("a relay did not answer a release in time: sending it again", "worker", to, "method", method)
	b.inBackground(func() {
		c := b.caller(to)
		tk := time.NewTicker(resendEvery)
		defer tk.Stop()
		for until := time.Now().Add(resendFor); time.Now().Before(until); {
			select {
			case <-b.stop:
				return
			case <-tk.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), b.p.TryTimeout)
			err := c.Call(ctx, method, params, nil)
			cancel()
			if !errors.Is(err, errUnanswered) {
				// Served, refused as not found (it got there before), or its
				// server gone: either way, nothing is left to give back.
				b.log.Info("a release sent again is settled", "worker", to, "method", method, "err", err)
				return
			}
		}
		b.log.Error("a relay never answered a release: it may keep what it was told to close", "worker", to, "method", method, "for", resendFor)
	})
}

// onEvent takes a relay's event for one of our rooms: only from the server
// that runs the worker it names.
func (b *Borrower) onEvent(env bus.Envelope) {
	var we cluster.WorkerEvent
	if err := json.Unmarshal(env.Body, &we); err != nil || we.Worker.Server != env.From || env.From == "" {
		b.log.Warn("bad relay event", "from", env.From)
		return
	}
	ev, err := ipc.DecodeEvent(we.Method, we.Params)
	if err != nil {
		b.log.Warn("bad relay event", "from", env.From, "err", err)
		return
	}
	b.p.OnEvent(we.Worker, ev)
}
