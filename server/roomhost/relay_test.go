package roomhost

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
)

// relayLink is the bus between an owner host and a relay host, in process:
// relay requests go to the relay's Lender.Place, worker calls through its
// Check and Done to its fake worker, as control does them.
type relayLink struct {
	owner cluster.ServerID
	relay *Host
	mux   *ipc.Mux
	err   error // when set, Place fails with it
}

func (l *relayLink) Place(ctx context.Context, req RelayRequest) (RelayRouter, error) {
	if l.err != nil {
		return RelayRouter{}, l.err
	}
	placed, err := l.relay.Lender().Place(ctx, cluster.RelayPlace{Room: req.Room, Owner: l.owner, Peer: req.Peer, Publish: req.Publish, Publishers: req.Publishers})
	if err != nil {
		return RelayRouter{}, err
	}
	return RelayRouter{Ref: placed.Worker, RouterID: placed.RouterID, Client: ipc.NewClient(placed.Worker, l)}, nil
}

// Call implements ipc.Caller the way a relay server serves worker.call:
// the call crosses as a bus.WorkerCall (encoded, then decoded into its
// typed request), is checked and sent on to the fake worker.
func (l *relayLink) Call(ctx context.Context, method string, params, out any) error {
	req, err := ipc.RequestOf(method, params)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(bus.WorkerCall{Request: req})
	if err != nil {
		return err
	}
	var call bus.WorkerCall
	if err := json.Unmarshal(raw, &call); err != nil {
		return err
	}
	checked, err := l.relay.Lender().Check(l.owner, call.Request)
	if err != nil {
		return err
	}
	body, err := json.Marshal(checked.Params())
	if err != nil {
		return err
	}
	res, err := l.mux.Serve(ctx, checked.Method(), body)
	l.relay.Lender().Done(l.owner, call.Request)
	if err != nil || out == nil {
		return err
	}
	b, _ := json.Marshal(res)
	return json.Unmarshal(b, out)
}

func serveFake(w *fakeWorker) *ipc.Mux {
	m := ipc.NewMux()
	e := ipc.Empty{}
	ipc.Handle(m, ipc.CallRouterClose, func(ctx context.Context, r ipc.RouterRef) (ipc.Empty, error) { return e, w.CloseRouter(ctx, r) })
	ipc.Handle(m, ipc.CallTransportCreate, func(ctx context.Context, r ipc.TransportCreate) (ipc.Empty, error) {
		return e, w.CreateTransport(ctx, r)
	})
	ipc.Handle(m, ipc.CallTransportAnswer, func(ctx context.Context, r ipc.SDP) (ipc.Empty, error) { return e, w.Answer(ctx, r) })
	ipc.Handle(m, ipc.CallTransportCand, func(ctx context.Context, r ipc.Candidate) (ipc.Empty, error) { return e, w.AddCandidate(ctx, r) })
	ipc.Handle(m, ipc.CallTransportClose, func(ctx context.Context, r ipc.TransportRef) (ipc.Empty, error) {
		return e, w.CloseTransport(ctx, r)
	})
	ipc.Handle(m, ipc.CallConsumerCreate, func(ctx context.Context, r ipc.ConsumerRef) (ipc.Empty, error) { return e, w.Consume(ctx, r) })
	ipc.Handle(m, ipc.CallConsumerClose, func(ctx context.Context, r ipc.ConsumerRef) (ipc.Empty, error) { return e, w.CloseConsumer(ctx, r) })
	ipc.Handle(m, ipc.CallProducerPause, func(ctx context.Context, r ipc.ProducerPause) (ipc.Empty, error) {
		return e, w.PauseProducer(ctx, r)
	})
	ipc.Handle(m, ipc.CallPipeCreate, w.PipeCreate)
	ipc.Handle(m, ipc.CallPipeConnect, func(ctx context.Context, r ipc.PipeConnect) (ipc.Empty, error) { return e, w.PipeConnect(ctx, r) })
	ipc.Handle(m, ipc.CallPipeConsume, func(ctx context.Context, r ipc.PipeFlow) (ipc.Empty, error) { return e, w.PipeConsume(ctx, r) })
	ipc.Handle(m, ipc.CallPipeUnconsume, func(ctx context.Context, r ipc.PipeFlow) (ipc.Empty, error) { return e, w.PipeUnconsume(ctx, r) })
	ipc.Handle(m, ipc.CallPipeProduce, func(ctx context.Context, r ipc.PipeFlow) (ipc.Empty, error) { return e, w.PipeProduce(ctx, r) })
	ipc.Handle(m, ipc.CallPipeUnproduce, func(ctx context.Context, r ipc.PipeFlow) (ipc.Empty, error) { return e, w.PipeUnproduce(ctx, r) })
	ipc.Handle(m, ipc.CallPipeClose, func(ctx context.Context, r ipc.PipeRef) (ipc.Empty, error) { return e, w.PipeClose(ctx, r) })
	return m
}

// relayPair is an owner "A" with one small worker and a relay "B" with one
// roomy worker.
type relayPair struct {
	owner, relay *testHost
	link         *relayLink
}

func newRelayPair(t *testing.T, ownerLim placement.Limits) *relayPair {
	a, b := newFakeWorker(0), newFakeWorker(0)
	a.ref, b.ref = cluster.LocalWorker("A", 0), cluster.LocalWorker("B", 0)
	relay := New(Params{Workers: fakeWorkers{[]*fakeWorker{b}}, Limits: roomy, PipeListenIP: "127.0.0.1", ClusterPipeIP: "127.0.0.12"})
	t.Cleanup(relay.Stop)
	link := &relayLink{owner: "A", relay: relay, mux: serveFake(b)}
	owner := New(Params{Workers: fakeWorkers{[]*fakeWorker{a}}, Limits: ownerLim, PipeListenIP: "127.0.0.1", ClusterPipeIP: "127.0.0.11",
		PipeSRTP: true, Relays: link, CallTimeout: 5 * time.Second})
	t.Cleanup(owner.Stop)
	return &relayPair{owner: &testHost{t: t, h: owner, ws: []*fakeWorker{a}}, relay: &testHost{t: t, h: relay, ws: []*fakeWorker{b}}, link: link}
}

// small fits two publishers and one listener on a worker (load 6 of 12).
var small = placement.Limits{MaxConsumers: 12, MaxProducers: 100, Headroom: 0.5}

func TestRelayTakesTheJoinsTheOwnerCannot(t *testing.T) {
	rp := newRelayPair(t, small)
	owner, relay := rp.owner, rp.relay
	p1, _ := owner.join("r", "p1", true)
	p2, _ := owner.join("r", "p2", true)
	pr1, pr2 := owner.produce(p1), owner.produce(p2)
	l1, _ := owner.join("r", "l1", false)
	require.Equal(t, cluster.ServerID("A"), mustRef(t, owner.h, l1).Server)

	// The owner is full: the next listeners land on the relay, and the
	// relay counts them (and the publishers piped in) in its own load.
	l2, l2s := owner.join("r", "l2", false)
	l3, _ := owner.join("r", "l3", false)
	require.Equal(t, cluster.LocalWorker("B", 0), mustRef(t, owner.h, l2))
	require.Equal(t, cluster.LocalWorker("B", 0), mustRef(t, owner.h, l3))
	rooms, routers, peers := relay.h.Lender().Counts()
	require.Equal(t, [3]int{1, 1, 2}, [3]int{rooms, routers, peers})
	require.Equal(t, 2*2+2, relay.h.Loads()[cluster.LocalWorker("B", 0)].Units(),
		"two listeners of two publishers, and the two pipe producers")
	require.Contains(t, l2s.types(), "joined")

	b := relay.ws[0]
	owner.settle()
	require.Eventually(t, func() bool {
		return consumes(b, l2, pr1) && consumes(b, l2, pr2) && consumes(b, l3, pr1) && consumes(b, l3, pr2)
	}, 5*time.Second, time.Millisecond, "relayed listeners consume both publishers")
	// One pipe to the relay, SRTP on, each end on its host's pipe address.
	pipes := owner.h.Pipes()
	require.Len(t, pipes, 1)
	require.Equal(t, []string{"A", "B"}, pipes[0].Servers)
	require.True(t, pipes[0].SRTP)
	require.True(t, b.srtp[pipes[0].ID], "the relay end got keys of its own direction")
	require.True(t, owner.ws[0].srtp[pipes[0].ID])
	require.Equal(t, "127.0.0.12", b.listenIPs[pipes[0].ID], "the relay's end listens on the relay's pipe address")
	require.Equal(t, "127.0.0.11", owner.ws[0].listenIPs[pipes[0].ID])

	// A mute on the owner reaches the relay's copy of the producer, and so
	// does the unmute.
	require.NoError(t, owner.h.Mute(p1, true))
	isPaused := func(w *fakeWorker, pr string) bool { w.mu.Lock(); defer w.mu.Unlock(); return w.paused[pr] }
	require.True(t, isPaused(b, pr1), "the relay's pipe producer is paused")
	require.True(t, isPaused(owner.ws[0], pr1))
	require.NoError(t, owner.h.Mute(p1, false))
	require.False(t, isPaused(b, pr1))

	// The relay serves the owner only what it lent it.
	_, err := relay.h.Lender().Check("C", ipc.NewRequest(ipc.CallTransportClose, ipc.TransportRef{TransportID: l2}))
	require.ErrorContains(t, err, "not relayed here")
	_, err = relay.h.Lender().Check("A", ipc.NewRequest(ipc.CallRouterCreate, ipc.RouterCreate{}))
	require.ErrorContains(t, err, "not served to relays")
	_, err = relay.h.Lender().Check("A", ipc.NewRequest(ipc.CallLoad, ipc.Empty{}))
	require.ErrorContains(t, err, "not served to relays")
	var call bus.WorkerCall
	require.Error(t, json.Unmarshal([]byte(`{"method":"transport.close","params":{bad}`), &call), "the codec refuses what does not decode")

	// Everyone leaves: nothing is left on either host.
	for _, id := range []string{l3, l2, l1, p2, p1} {
		owner.h.Leave(id)
	}
	owner.requireEmpty()
	relay.requireEmpty()
	rooms, routers, peers = relay.h.Lender().Counts()
	require.Zero(t, rooms+routers+peers)
}

func TestRelayLostSendsItsPeersBackAndOwnerLostClearsTheRelay(t *testing.T) {
	rp := newRelayPair(t, small)
	owner, relay := rp.owner, rp.relay
	p1, _ := owner.join("r", "p1", true)
	owner.produce(p1)
	owner.join("r", "p2", true)
	_, l1s := owner.join("r", "l1", false)
	l2, l2s := owner.join("r", "l2", false)
	require.Equal(t, cluster.ServerID("B"), mustRef(t, owner.h, l2).Server)

	// B drains: only its peers are sent back to the owner, with a move
	// (their media stays up until they rejoined).
	require.Equal(t, 1, owner.h.RelayDraining("B", "http://a.test", "A"))
	require.Equal(t, "move:http://a.test", l2s.reconnectReason())
	require.Empty(t, l1s.reconnectReason())
	require.Zero(t, owner.h.RelayDraining("C", "http://a.test", "A"), "no peer on C")
	l2s.mu.Lock()
	l2s.reconnect = ""
	l2s.mu.Unlock()

	// B dies: only its peers are told to reconnect.
	owner.h.ServerLost("B")
	require.Equal(t, "worker_restarted", l2s.reconnectReason())
	require.Empty(t, l1s.reconnectReason())

	// A dies: B closes what it lent A.
	require.Equal(t, 1, relay.h.Lender().DropOwner("A"))
	relay.requireEmpty()
	rooms, _, _ := relay.h.Lender().Counts()
	require.Zero(t, rooms)
}

func TestRelayRefusalIsNoCapacityAndLeavesNothing(t *testing.T) {
	rp := newRelayPair(t, small)
	owner := rp.owner
	owner.join("r", "p1", true)
	owner.join("r", "p2", true)
	owner.join("r", "l1", false)
	rp.link.err = ErrNoCapacity
	_, err := owner.h.Admit(JoinRequest{Room: "r", Identity: "l2", Session: &fakeSession{}})
	require.ErrorIs(t, err, ErrNoCapacity)
	_, peers := owner.h.Counts()
	require.Equal(t, 3, peers)
}

func mustRef(t *testing.T, h *Host, peerID string) cluster.WorkerRef {
	t.Helper()
	ref, ok := h.PeerWorker(peerID)
	require.True(t, ok)
	return ref
}

func (s *fakeSession) reconnectReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnect
}

func TestRelayedPublisherIsPipedToTheOwner(t *testing.T) {
	rp := newRelayPair(t, placement.Limits{MaxConsumers: 6, MaxProducers: 100, Headroom: 0.5})
	owner, relay := rp.owner, rp.relay
	a, _ := owner.join("r", "ann", true)
	b, _ := owner.join("r", "bob", true)
	require.Equal(t, cluster.ServerID("B"), mustRef(t, owner.h, b).Server)
	pa := owner.produce(a)
	// bob's track starts on the relay's worker; its event reaches the owner.
	pb := owner.produceOn(relay.ws[0], b)
	owner.settle()
	require.Eventually(t, func() bool { return consumes(owner.ws[0], a, pb) && consumes(relay.ws[0], b, pa) }, 5*time.Second, time.Millisecond,
		"each hears the other across the pipe: %s / %s", owner.ws[0].empty(), relay.ws[0].empty())
}

// relayLinks are several relays behind one owner, asked in order.
type relayLinks struct {
	links []*relayLink
}

func (ls *relayLinks) Place(ctx context.Context, req RelayRequest) (RelayRouter, error) {
	for _, l := range ls.links {
		rel, err := l.Place(ctx, req)
		if err == nil {
			return rel, nil
		}
	}
	return RelayRouter{}, ErrNoCapacity
}

// linkedRelays is an owner A whose one worker takes two listeners, and
// two relays B and C, each of one worker.
func linkedRelays(t *testing.T) (owner, b, c *testHost) {
	var links relayLinks
	var relays []*testHost
	for _, id := range []cluster.ServerID{"B", "C"} {
		w := newFakeWorker(0)
		w.ref = cluster.LocalWorker(id, 0)
		// A relay takes one publisher, or one listener of two publishers.
		h := New(Params{Workers: fakeWorkers{[]*fakeWorker{w}}, Limits: placement.Limits{MaxConsumers: 8, MaxProducers: 100, Headroom: 0.5},
			PipeListenIP: "127.0.0.1"})
		t.Cleanup(h.Stop)
		links.links = append(links.links, &relayLink{owner: "A", relay: h, mux: serveFake(w)})
		relays = append(relays, &testHost{t: t, h: h, ws: []*fakeWorker{w}})
	}
	a := newFakeWorker(0)
	a.ref = cluster.LocalWorker("A", 0)
	owner = &testHost{t: t, ws: []*fakeWorker{a}, h: New(Params{Workers: fakeWorkers{[]*fakeWorker{a}},
		Limits: placement.Limits{MaxConsumers: 2, MaxProducers: 100, Headroom: 0.5}, PipeListenIP: "127.0.0.1", Relays: &links})}
	t.Cleanup(owner.h.Stop)
	return owner, relays[0], relays[1]
}

func TestRelaysAreLinkedThroughTheOwnerNotMeshed(t *testing.T) {
	owner, b, c := linkedRelays(t)
	a := owner.ws[0]

	ann, _ := owner.join("r", "ann", true)
	bob, _ := owner.join("r", "bob", true)
	require.Equal(t, cluster.ServerID("B"), mustRef(t, owner.h, bob).Server)
	cid, _ := owner.join("r", "cid", false)
	require.Equal(t, cluster.ServerID("C"), mustRef(t, owner.h, cid).Server)
	prAnn := owner.produce(ann)
	prBob := owner.produceOn(b.ws[0], bob)
	owner.settle()
	require.Eventually(t, func() bool { return consumes(c.ws[0], cid, prBob) && consumes(c.ws[0], cid, prAnn) }, 5*time.Second, time.Millisecond)

	// Bob's stream reaches C through the owner's router: pipes A–B and
	// A–C, none between B and C.
	servers := func() [][]string {
		var out [][]string
		for _, pp := range owner.h.Pipes() {
			out = append(out, pp.Servers)
		}
		return out
	}
	require.ElementsMatch(t, [][]string{{"A", "B"}, {"A", "C"}}, servers())
	a.mu.Lock()
	require.Contains(t, a.piped, prBob, "the owner's router receives bob's stream")
	a.mu.Unlock()

	// Ann leaves: the owner's router has no peer left but carries bob's
	// stream to C, so it stays, until C's listener goes.
	owner.h.Leave(ann)
	owner.settle()
	require.True(t, consumes(c.ws[0], cid, prBob))
	require.ElementsMatch(t, [][]string{{"A", "B"}, {"A", "C"}}, servers())
	a.mu.Lock()
	require.Len(t, a.routers, 1, "the hub router stays while it carries a stream")
	a.mu.Unlock()
	owner.h.Leave(cid)
	require.Eventually(t, func() bool { return a.empty() == "" }, 5*time.Second, time.Millisecond, "the hub goes with its last flow: %s", a.empty())
	require.Empty(t, owner.h.Pipes())
	owner.h.Leave(bob)
	owner.requireEmpty()
	b.requireEmpty()
	c.requireEmpty()
}

func TestMoveSendsEveryPeerToTheNewHomeAndRefusesJoins(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	_, as := th.join("r", "ann", true)
	_, bs := th.join("r", "bob", false)
	require.Equal(t, 2, th.h.Move("r", "http://127.0.0.12:7880", "B"))
	require.Equal(t, "move:http://127.0.0.12:7880", as.reconnectReason())
	require.Equal(t, "move:http://127.0.0.12:7880", bs.reconnectReason())
	_, err := th.h.Admit(JoinRequest{Room: "r", Identity: "late", Session: &fakeSession{}})
	require.ErrorIs(t, err, ErrRoomClosed, "a room that moved takes no join here")
	require.Zero(t, th.h.Move("nope", "http://x", "B"))
}

func TestAHubRouterAPeerJoinsServesItAndGoesWithIt(t *testing.T) {
	owner, b, c := linkedRelays(t)
	a := owner.ws[0]
	ann, _ := owner.join("r", "ann", true)
	bob, _ := owner.join("r", "bob", true)
	cid, _ := owner.join("r", "cid", false)
	owner.produce(ann)
	prBob := owner.produceOn(b.ws[0], bob)
	owner.settle()
	require.Eventually(t, func() bool { return consumes(c.ws[0], cid, prBob) }, 5*time.Second, time.Millisecond)

	// Ann leaves: the owner's router is a hub. Dan joins it: it serves a
	// peer again, and keeps serving him once the stream it carried to C
	// is gone.
	owner.h.Leave(ann)
	owner.settle()
	owner.h.place.mu.Lock()
	owner.h.place.lim.MaxConsumers = 8 // room for dan beside what the hub carries
	owner.h.place.mu.Unlock()
	dan, _ := owner.join("r", "dan", false)
	require.Equal(t, a.ref, mustRef(t, owner.h, dan), "dan is placed on the hub router")
	owner.settle()
	require.Eventually(t, func() bool { return consumes(a, dan, prBob) }, 5*time.Second, time.Millisecond)
	// Bob and cid leave: no pipe touches the router any more, but dan is
	// on it, so it stays.
	owner.h.Leave(bob)
	owner.h.Leave(cid)
	owner.settle()
	require.Eventually(t, func() bool { return b.ws[0].empty() == "" && c.ws[0].empty() == "" }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return len(owner.h.Pipes()) == 0 }, 5*time.Second, time.Millisecond)
	a.mu.Lock()
	require.Len(t, a.routers, 1, "the router stays while dan is on it")
	a.mu.Unlock()
	_, err := owner.h.transportOf(context.Background(), dan)
	require.NoError(t, err, "dan is still joined")

	// Dan leaves: the router goes with him.
	owner.h.Leave(dan)
	require.Eventually(t, func() bool { return a.empty() == "" }, 5*time.Second, time.Millisecond, "the router goes with its last peer: %s", a.empty())
	owner.requireEmpty()
	b.requireEmpty()
	c.requireEmpty()
}
