package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/registry"
	"github.com/voicectl/voicectl/server/relay"
	"github.com/voicectl/voicectl/server/roomhost"
)

const (
	deadAfter = time.Minute
	highWater = 0.8
)

// peers is the agent's view of the other servers, on a real registry: a
// server is observed with its stress, draining, or last heard long ago.
type peers struct {
	self cluster.ServerID
	reg  *registry.Registry
}

func newPeers(self cluster.ServerID) *peers {
	return &peers{self: self, reg: registry.New(deadAfter)}
}

func (p *peers) beat(id cluster.ServerID, stress float64, draining bool, ago time.Duration) {
	p.reg.Observe(cluster.Heartbeat{Server: id, Stress: stress, Draining: draining}, time.Now().Add(-ago))
}

func (p *peers) Alive(id cluster.ServerID) bool    { return p.reg.Heard(id, time.Now()) }
func (p *peers) Draining(id cluster.ServerID) bool { return p.reg.Draining(id) }
func (p *peers) Placed(id cluster.ServerID)        { p.reg.Placed(id) }
func (p *peers) Candidates(hw float64) []cluster.ServerID {
	now := time.Now()
	heard := slices.DeleteFunc(p.reg.Snapshot(), func(s registry.Server) bool { return now.Sub(s.LastSeen) > deadAfter })
	return registry.Candidates(heard, hw, p.self)
}

// answer is how a fake server answers a relay request.
type answer int

const (
	accepts answer = iota
	refuses        // no_capacity
	fails          // an internal error
	hangs          // until the asker gives up
	lies           // a router on another server
)

// servers are fake relay servers on the in-process bus; asked records whom
// the owner asked, in order.
type servers struct {
	bus *bus.Local

	mu       sync.Mutex
	asked    []cluster.ServerID
	reqs     []cluster.RelayPlace
	released map[cluster.ServerID][]cluster.RelayRelease
}

func newServers(t *testing.T, answers map[cluster.ServerID]answer) *servers {
	s := &servers{bus: bus.NewLocal(), released: map[cluster.ServerID][]cluster.RelayRelease{}}
	var subs []bus.Subscription
	for id, a := range answers {
		mux := bus.NewMux(id)
		bus.Handle(mux, bus.PlaceRelay, func(ctx context.Context, env bus.Envelope, r cluster.RelayPlace) (cluster.RelayPlaced, error) {
			s.mu.Lock()
			s.asked = append(s.asked, id)
			s.reqs = append(s.reqs, r)
			s.mu.Unlock()
			switch a {
			case refuses:
				return cluster.RelayPlaced{}, bus.Errorf(bus.CodeNoCapacity, "%s is full", id)
			case fails:
				return cluster.RelayPlaced{}, errors.New("broken")
			case hangs:
				<-ctx.Done()
				return cluster.RelayPlaced{}, ctx.Err()
			case lies:
				return cluster.RelayPlaced{Worker: cluster.LocalWorker("Z", 0), RouterID: "R-" + string(id)}, nil
			}
			return cluster.RelayPlaced{Worker: cluster.LocalWorker(id, 1), RouterID: "R-" + string(id)}, nil
		})
		bus.Handle(mux, bus.ReleaseRelay, func(_ context.Context, env bus.Envelope, r cluster.RelayRelease) (cluster.Result, error) {
			require.Equal(t, cluster.ServerID("A"), env.From)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.released[id] = append(s.released[id], r)
			return cluster.Result{OK: true}, nil
		})
		sub, err := s.bus.Serve(bus.ServerQueue(id), mux.Serve)
		require.NoError(t, err)
		subs = append(subs, sub)
	}
	t.Cleanup(func() {
		for _, sub := range subs {
			require.NoError(t, sub.Cancel())
		}
		require.NoError(t, s.bus.Close())
	})
	return s
}

func (s *servers) releases() map[cluster.ServerID][]cluster.RelayRelease {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[cluster.ServerID][]cluster.RelayRelease{}
	for id, rs := range s.released {
		out[id] = append([]cluster.RelayRelease(nil), rs...)
	}
	return out
}

func (s *servers) seen() []cluster.ServerID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cluster.ServerID(nil), s.asked...)
}

// borrower is owner "A"'s Borrower on the servers' bus, started on p.
func borrower(t *testing.T, s *servers, p relay.Peers, try time.Duration) *relay.Borrower {
	b := relay.NewBorrower(relay.BorrowerParams{ServerID: "A", Bus: s.bus, HighWater: highWater,
		MaxForwardedSpeakers: 3, TryTimeout: try, OnEvent: func(cluster.WorkerRef, ipc.Event) {}})
	require.NoError(t, b.Start(p))
	t.Cleanup(b.Close)
	return b
}

func TestPlaceAsksTheRoomsRelaysFirstThenTheLeastStressed(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"A": refuses, "B": refuses, "C": refuses, "D": refuses,
		"E": refuses, "F": refuses, "G": refuses})
	p := newPeers("A")
	p.beat("B", 0.6, false, 0)
	p.beat("C", 0.2, false, 0)
	p.beat("D", 0.4, false, 0)
	p.beat("E", 0.1, true, 0)          // draining
	p.beat("F", 0.1, false, time.Hour) // dead
	p.beat("G", 0.9, false, 0)         // above high water
	b := borrower(t, s, p, time.Second)

	_, err := b.Place(ctxFor(t, 5*time.Second), roomhost.RelayRequest{Room: "r", Peer: "p1", Prefer: []cluster.ServerID{"A", "F", "D", "E", "G"}})
	require.ErrorIs(t, err, roomhost.ErrNoCapacity, "every server refused")
	// The room's relays that are alive and not draining first (G is above
	// high water but already relays the room: it may have room), then the
	// candidates least stressed first, each once; never the owner itself.
	require.Equal(t, []cluster.ServerID{"D", "G", "C", "B"}, s.seen())
	for _, r := range s.reqs {
		require.Equal(t, cluster.RelayPlace{Room: "r", Owner: "A", Peer: "p1", MaxForwardedSpeakers: 3, Try: r.Try}, r)
	}
	require.Empty(t, s.releases(), "a refusal reserved nothing")
}

func TestPlaceTriesTheNextWhenOneRefusesFailsOrHangs(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"B": refuses, "C": hangs, "D": lies, "E": fails, "F": accepts, "G": accepts})
	p := newPeers("A")
	for i, id := range []cluster.ServerID{"B", "C", "D", "E", "F", "G"} {
		p.beat(id, 0.1*float64(i+1), false, 0)
	}
	b := borrower(t, s, p, 200*time.Millisecond)

	start := time.Now()
	rt, err := b.Place(ctxFor(t, 5*time.Second), roomhost.RelayRequest{Room: "r", Peer: "p1", Publish: true, Publishers: 2})
	require.NoError(t, err)
	took := time.Since(start)
	require.Equal(t, []cluster.ServerID{"B", "C", "D", "E", "F"}, s.seen(), "G is never asked: F took the peer")
	require.Equal(t, cluster.LocalWorker("F", 1), rt.Ref)
	require.Equal(t, "R-F", rt.RouterID)
	require.Equal(t, cluster.LocalWorker("F", 1), rt.Client.Ref())
	require.GreaterOrEqual(t, took, 200*time.Millisecond, "C was waited for")
	require.Less(t, took, relay.DefaultTryTimeout, "C was waited for TryTimeout only")
	tries := map[string]bool{}
	for _, r := range s.reqs {
		require.NotEmpty(t, r.Try)
		require.False(t, tries[r.Try], "each try is named anew")
		tries[r.Try] = true
	}
	require.Equal(t, cluster.RelayPlace{Room: "r", Owner: "A", Peer: "p1", Publish: true, Publishers: 2, MaxForwardedSpeakers: 3, Try: s.reqs[4].Try}, s.reqs[4])

	// The servers that may have reserved room for p1 all the same (C did
	// not answer in time, D answered with a router elsewhere, E failed) are
	// told to give back what that try reserved; B refused and F has p1.
	want := map[cluster.ServerID][]cluster.RelayRelease{}
	for i, id := range s.seen()[1:4] {
		want[id] = []cluster.RelayRelease{{Room: "r", Peer: "p1", Try: s.reqs[i+1].Try}}
	}
	require.Eventually(t, func() bool { return len(s.releases()) == 3 }, 2*time.Second, time.Millisecond)
	b.Close() // waits for the releases still being sent
	require.Equal(t, want, s.releases())
}

func TestPlaceCountsTheRelayItPlaced(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"B": accepts, "C": accepts})
	p := newPeers("A")
	p.beat("B", 0.50, false, 0)
	p.beat("C", 0.51, false, 0)
	b := borrower(t, s, p, time.Second)
	ctx := ctxFor(t, 5*time.Second)

	first, err := b.Place(ctx, roomhost.RelayRequest{Room: "r", Peer: "p1"})
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("B"), first.Ref.Server)
	// B's placement counts until its next heartbeat: C is less stressed now.
	second, err := b.Place(ctx, roomhost.RelayRequest{Room: "r2", Peer: "p2"})
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("C"), second.Ref.Server)
	// A worker already reached has one client.
	again, err := b.Place(ctx, roomhost.RelayRequest{Room: "r", Peer: "p3", Prefer: []cluster.ServerID{"B"}})
	require.NoError(t, err)
	require.Equal(t, first.Ref, again.Ref)
	require.True(t, first.Client == again.Client, "one client per worker")
	require.False(t, first.Client == second.Client)
}

func TestPlaceStopsWhenTheOwnerGivesUp(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"B": hangs, "C": accepts})
	p := newPeers("A")
	p.beat("B", 0.1, false, 0)
	p.beat("C", 0.2, false, 0)
	b := borrower(t, s, p, time.Second)

	_, err := b.Place(ctxFor(t, 100*time.Millisecond), roomhost.RelayRequest{Room: "r", Peer: "p1"})
	require.ErrorIs(t, err, roomhost.ErrNoCapacity)
	require.Equal(t, []cluster.ServerID{"B"}, s.seen(), "nobody is asked past the owner's deadline")
	b.Close()
	require.Equal(t, map[cluster.ServerID][]cluster.RelayRelease{"B": {{Room: "r", Peer: "p1", Try: s.reqs[0].Try}}}, s.releases(),
		"B is told to give back what it may have reserved")
}

func TestPlaceBeforeStartFindsNoCapacity(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"B": accepts})
	b := relay.NewBorrower(relay.BorrowerParams{ServerID: "A", Bus: s.bus, HighWater: highWater,
		OnEvent: func(cluster.WorkerRef, ipc.Event) {}})
	t.Cleanup(b.Close)
	_, err := b.Place(ctxFor(t, time.Second), roomhost.RelayRequest{Room: "r", Peer: "p1", Prefer: []cluster.ServerID{"B"}})
	require.ErrorIs(t, err, roomhost.ErrNoCapacity)
	require.Empty(t, s.seen())
}

// TestPlaceWhileStartingIsNotARace: the room host may place a relay while
// the server is still joining the cluster (the agent, and so the view, is
// handed over by Start); such a Place finds no capacity or a router, and
// -race sees no unguarded view.
func TestPlaceWhileStartingIsNotARace(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"B": accepts})
	p := newPeers("A")
	p.beat("B", 0.1, false, 0)
	b := relay.NewBorrower(relay.BorrowerParams{ServerID: "A", Bus: s.bus, HighWater: highWater,
		OnEvent: func(cluster.WorkerRef, ipc.Event) {}})
	t.Cleanup(b.Close)
	placed := make(chan error)
	go func() {
		rt, err := b.Place(ctxFor(t, time.Second), roomhost.RelayRequest{Room: "r", Peer: "p1"})
		if err == nil && rt.Ref != cluster.LocalWorker("B", 1) {
			err = errors.New("a router of " + rt.Ref.String())
		}
		placed <- err
	}()
	require.NoError(t, b.Start(p))
	if err := <-placed; err != nil {
		require.ErrorIs(t, err, roomhost.ErrNoCapacity)
	}
	rt, err := b.Place(ctxFor(t, time.Second), roomhost.RelayRequest{Room: "r", Peer: "p2"})
	require.NoError(t, err, "once started, the view is used")
	require.Equal(t, cluster.LocalWorker("B", 1), rt.Ref)
}

func TestARelayOnADeadServerFailsAtOnce(t *testing.T) {
	s := newServers(t, map[cluster.ServerID]answer{"B": accepts})
	p := newPeers("A")
	p.beat("B", 0.1, false, 0)
	b := borrower(t, s, p, time.Second)
	rt, err := b.Place(ctxFor(t, 5*time.Second), roomhost.RelayRequest{Room: "r", Peer: "p1"})
	require.NoError(t, err)

	p.beat("B", 0.1, false, time.Hour)
	start := time.Now()
	err = rt.Client.CloseTransport(ctxFor(t, 5*time.Second), ipc.TransportRef{TransportID: "T"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown)
	require.Less(t, time.Since(start), time.Second, "a dead server's worker is not waited for")
}

// lent lends routers "RT" to owner "A" (events about them go to A).
type lent struct{ lender }

func (l *lent) OwnerOf(ev ipc.Event) (cluster.ServerID, bool) {
	if sp, ok := ev.(ipc.SpeakersEvent); ok && sp.RouterID == "RT" {
		return "A", true
	}
	return "", false
}

type workers struct{ w *worker }

func (ws workers) Len() int { return 1 }
func (ws workers) Call(ctx context.Context, i int, method string, params, out any) error {
	if i != 0 {
		panic("no such worker")
	}
	return ws.w.Call(ctx, method, params, out)
}

type heard struct {
	from cluster.WorkerRef
	ev   ipc.Event
}

func TestRelayedEventsReachTheOwnerInOrder(t *testing.T) {
	b := bus.NewLocal()
	got := make(chan heard, 16)
	owner := relay.NewBorrower(relay.BorrowerParams{ServerID: "A", Bus: b,
		OnEvent: func(from cluster.WorkerRef, ev ipc.Event) { got <- heard{from, ev} }})
	require.NoError(t, owner.Start(newPeers("A")))
	l := relay.NewLending(relay.LendingParams{ServerID: "B", Bus: b, Lent: &lent{}, Workers: workers{newWorker()}})
	l.Start()
	t.Cleanup(func() {
		l.Close()
		owner.Close()
		require.NoError(t, b.Close())
	})

	ref := cluster.LocalWorker("B", 0)
	send := func(ev ipc.SpeakersEvent) bool {
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		return l.WorkerEvent(ref, ipc.EventSpeakers, raw, ev)
	}
	require.False(t, send(ipc.SpeakersEvent{RouterID: "mine"}), "an event of this server's own router stays here")
	for i := range 5 {
		require.True(t, send(ipc.SpeakersEvent{RouterID: "RT", Speakers: make([]ipc.SpeakerLevel, i)}))
	}
	for i := range 5 {
		select {
		case h := <-got:
			require.Equal(t, ref, h.from)
			sp, ok := h.ev.(ipc.SpeakersEvent)
			require.True(t, ok)
			require.Equal(t, "RT", sp.RouterID)
			require.Len(t, sp.Speakers, i, "in the order the worker sent them")
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d did not reach the owner", i)
		}
	}

	// An event that claims another server's worker is dropped.
	raw, err := json.Marshal(cluster.WorkerEvent{Worker: cluster.LocalWorker("C", 0), Method: ipc.EventSpeakers, Params: []byte(`{"router_id":"RT"}`)})
	require.NoError(t, err)
	require.NoError(t, b.Publish(context.Background(), bus.WorkerEventKey("A"), bus.Envelope{Type: bus.TypeWorkerEvent, From: "B", Body: raw}))
	select {
	case h := <-got:
		t.Fatalf("a forged event was handled: %+v", h)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestLendingServesOwnersCallsOnItsWorkers(t *testing.T) {
	w := newWorker()
	lt := &lent{}
	l := relay.NewLending(relay.LendingParams{ServerID: "B", Lent: lt, Workers: workers{w}})
	ctx := ctxFor(t, 5*time.Second)

	req := ipc.NewRequest(ipc.CallPipeCreate, ipc.PipeCreate{PipeID: "P", RouterID: "RT"})
	rep, err := l.ServeCall(ctx, "A", bus.WorkerCall{Worker: 0, Request: req})
	require.NoError(t, err)
	require.JSONEq(t, `{"local_addr":"127.0.0.12:4000"}`, string(rep))
	require.Equal(t, []string{ipc.MethodPipeCreate}, w.served())

	// A worker past the supervisor's is not found, and never called.
	_, err = l.ServeCall(ctx, "A", bus.WorkerCall{Worker: 1, Request: req})
	var be *bus.Error
	require.ErrorAs(t, err, &be)
	require.Equal(t, bus.CodeNotFound, be.Code)
	_, err = l.ServeCall(ctx, "A", bus.WorkerCall{Worker: -1, Request: req})
	require.ErrorAs(t, err, &be)
	require.Equal(t, bus.CodeNotFound, be.Code)
	require.Len(t, w.served(), 1)
}
