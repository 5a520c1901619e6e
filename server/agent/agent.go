// Package agent is a voice server's part in the cluster: it serves the
// server's own command queue and, while the server has spare capacity, the
// shared rooms queue (high/low water), and publishes heartbeats with the
// server's usage. It talks to the bus through its ports only.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/registry"
	"github.com/voicectl/voicectl/server/roomhost"
)

// Params configures an Agent.
type Params struct {
	Logger   *slog.Logger
	Bus      bus.Bus
	ServerID cluster.ServerID
	Host     *roomhost.Host
	// Usage snapshots the server for a heartbeat (Server, Rooms, RoomLoads
	// and Accepting are filled in here).
	Usage func() cluster.Heartbeat
	// HighWater, LowWater: stress marks of the shared queue's consumer.
	HighWater, LowWater float64
	Heartbeat           time.Duration
	SignalURL           string
	// CheckEvery is how often stress is compared with the marks (default 200ms).
	CheckEvery time.Duration
	// DeadAfter is how long another server may be silent before
	// OnServerLost hears of it.
	DeadAfter    time.Duration
	OnServerLost func(cluster.ServerID)
	// OnServerDraining hears once that another server began to drain.
	OnServerDraining func(cluster.ServerID)
	// Drain starts the server's drain (0: its drain.deadline) and returns
	// when it ends at the latest (required).
	Drain func(deadline time.Duration) time.Time
	// CallWorker serves an owner's worker request for its relay routers here.
	CallWorker func(ctx context.Context, from cluster.ServerID, call bus.WorkerCall) (json.RawMessage, error)
}

// Agent runs until Stop.
type Agent struct {
	p    Params
	log  *slog.Logger
	mux  *bus.Mux
	own  bus.Subscription
	stop chan struct{}
	wg   sync.WaitGroup

	// reg is the other servers as their heartbeats show them.
	reg *registry.Registry

	mu        sync.Mutex
	shared    bus.Subscription
	accepting bool
	beats     bus.Subscription
	// workerSubs serve the relay routers' worker calls, several at once.
	workerSubs []bus.Subscription

	// lease fences the server's rooms (lease.go); wasLeased is its state
	// at the last check (watchWater's goroutine only).
	lease     *lease
	wasLeased bool
	// ownBeats says whether the others' silence counts (ownbeats.go).
	ownBeats *ownBeats
}

// workerCallConsumers is how many worker calls a relay serves at once.
const workerCallConsumers = 8

func (a *Agent) cancelAll() {
	for _, s := range a.workerSubs {
		_ = s.Cancel()
	}
	_ = a.own.Cancel()
	_ = a.beats.Cancel()
}

// Start serves the server's queue, the shared queue (below high water) and
// publishes heartbeats.
func Start(p Params) (*Agent, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.CheckEvery <= 0 {
		p.CheckEvery = 200 * time.Millisecond
	}
	if p.DeadAfter <= 0 {
		p.DeadAfter = 3 * p.Heartbeat
	}
	a := &Agent{p: p, log: p.Logger.With("server", p.ServerID), stop: make(chan struct{}), reg: registry.New(p.DeadAfter),
		lease: newLease(p.Heartbeat, p.DeadAfter, time.Now()), wasLeased: true, ownBeats: newOwnBeats(p.Heartbeat, time.Now())}
	if p.Host != nil {
		p.Host.SetLease(a.Leased)
	}
	a.mux = a.handlers()
	// Both queues share one idempotent handler: a create redelivered after a
	// lost ack is answered again, not made twice. Worker calls skip it: they
	// are many and short-lived, and the worker answers a repeated one with
	// exists or not_found, which the owner takes as done.
	h := bus.NewDedup(a.mux.Serve, 10*time.Minute).Serve
	beats, err := p.Bus.Subscribe(bus.HeartbeatPattern, a.onHeartbeat)
	if err != nil {
		return nil, fmt.Errorf("subscribe to heartbeats: %w", err)
	}
	a.beats = beats
	own, err := p.Bus.Serve(bus.ServerQueue(p.ServerID), h)
	if err != nil {
		_ = beats.Cancel()
		return nil, fmt.Errorf("serve %s: %w", bus.ServerQueue(p.ServerID), err)
	}
	a.own = own
	for range workerCallConsumers {
		sub, err := p.Bus.Serve(bus.WorkersQueue(p.ServerID), a.mux.Serve)
		if err != nil {
			a.cancelAll()
			return nil, fmt.Errorf("serve %s: %w", bus.WorkersQueue(p.ServerID), err)
		}
		a.workerSubs = append(a.workerSubs, sub)
	}
	a.wg.Add(2)
	go a.watchWater(h)
	go a.heartbeats()
	return a, nil
}

// Stop ends the consumers and the heartbeats.
func (a *Agent) Stop() {
	close(a.stop)
	a.wg.Wait()
	a.mu.Lock()
	shared := a.shared
	a.shared = nil
	a.mu.Unlock()
	if shared != nil {
		_ = shared.Cancel()
	}
	a.cancelAll()
}

// Accepting reports whether the server consumes the shared rooms queue.
func (a *Agent) Accepting() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accepting
}

// watchWater consumes the shared queue while stress stays at or below high
// water, stops above it, and starts again below low water.
func (a *Agent) watchWater(h bus.Handler) {
	defer a.wg.Done()
	tk := time.NewTicker(a.p.CheckEvery)
	defer tk.Stop()
	for {
		u := a.p.Usage()
		a.mu.Lock()
		was := a.accepting
		a.mu.Unlock()
		want := !u.Draining && placement.Accepting(was, u.Stress, a.p.HighWater, a.p.LowWater)
		if want != was {
			a.setAccepting(want, h, u.Stress)
		}
		a.reapServers()
		a.checkLease()
		select {
		case <-a.stop:
			return
		case <-tk.C:
		}
	}
}

func (a *Agent) setAccepting(on bool, h bus.Handler, stress float64) {
	if on {
		sub, err := a.p.Bus.Serve(bus.RoomsQueue, h)
		if err != nil {
			a.log.Warn("cannot consume the shared rooms queue", "err", err)
			return
		}
		a.mu.Lock()
		a.shared, a.accepting = sub, true
		a.mu.Unlock()
		a.log.Info("taking new rooms", "stress", stress)
		return
	}
	a.mu.Lock()
	sub := a.shared
	a.shared, a.accepting = nil, false
	a.mu.Unlock()
	if sub != nil {
		_ = sub.Cancel()
	}
	a.log.Info("above high water: no new rooms", "stress", stress, "high_water", a.p.HighWater)
}

func (a *Agent) heartbeats() {
	defer a.wg.Done()
	tk := time.NewTicker(a.p.Heartbeat)
	defer tk.Stop()
	for {
		a.beat()
		select {
		case <-a.stop:
			return
		case <-tk.C:
		}
	}
}

// Beat publishes a heartbeat now, out of turn (a drain begins).
func (a *Agent) Beat() { a.beat() }

// beat publishes one heartbeat.
func (a *Agent) beat() {
	// Stamped before the rooms are read: a heartbeat sent after a room was
	// given up (room.move's answer says when) never lists it.
	sent := time.Now()
	hb := a.p.Usage()
	// Room loads per heartbeat, not in Usage: the stress checks every
	// CheckEvery need none. Its keys are the rooms hosted here.
	hb.RoomLoads = a.p.Host.RoomLoads()
	hb.Server, hb.SignalURL, hb.Rooms, hb.Accepting, hb.SentAt = a.p.ServerID, a.p.SignalURL, slices.Sorted(maps.Keys(hb.RoomLoads)), a.Accepting(), sent
	body, err := json.Marshal(hb)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.p.Heartbeat)
	defer cancel()
	if err := a.p.Bus.Publish(ctx, bus.HeartbeatKey(a.p.ServerID), bus.Envelope{Type: bus.TypeHeartbeat, From: a.p.ServerID, Body: body}); err != nil {
		a.log.Debug("heartbeat not published", "err", err)
	}
}
