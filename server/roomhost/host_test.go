package roomhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testHost struct {
	t  *testing.T
	h  *Host
	ws []*fakeWorker
}

func newTestHost(t *testing.T, workers int, lim placement.Limits) *testHost {
	var ws []*fakeWorker
	for i := 0; i < workers; i++ {
		ws = append(ws, newFakeWorker(i))
	}
	h := New(Params{Workers: fakeWorkers{ws}, Limits: lim, PipeListenIP: "127.0.0.1", CallTimeout: 5 * time.Second})
	t.Cleanup(h.Stop)
	return &testHost{t: t, h: h, ws: ws}
}

var roomy = placement.Limits{MaxConsumers: 1000, MaxProducers: 100, Headroom: 0.1}

func (th *testHost) admit(room, identity string, publish bool) (string, *fakeSession) {
	th.t.Helper()
	s := &fakeSession{}
	adm, err := th.h.Admit(JoinRequest{Room: room, Identity: identity, Publish: publish, Session: s})
	require.NoError(th.t, err)
	return adm.PeerID, s
}

func (th *testHost) join(room, identity string, publish bool) (string, *fakeSession) {
	th.t.Helper()
	id, s := th.admit(room, identity, publish)
	require.NoError(th.t, th.h.Connect(context.Background(), id))
	return id, s
}

func (th *testHost) worker(peerID string) *fakeWorker {
	ref, ok := th.h.PeerWorker(peerID)
	require.True(th.t, ok)
	return th.ws[ref.Index]
}

// produce is the publisher's track arriving at its worker, which then tells
// the host.
func (th *testHost) produce(peerID string) string {
	return th.produceOn(th.worker(peerID), peerID)
}

// produceOn is produce for a peer whose media is on w, another host's worker
// (a relay's).
func (th *testHost) produceOn(w *fakeWorker, peerID string) string {
	p := th.h.peer(peerID)
	require.NotNil(th.t, p)
	w.produce(peerID, p.producerID)
	th.h.HandleEvent(w.ref, ipc.ProducerNewEvent{RouterID: p.router.id, TransportID: peerID, ProducerID: p.producerID, LevelExtID: 1})
	return p.producerID
}

// settle waits until every queued worker event has been handled.
func (th *testHost) settle() {
	require.Eventually(th.t, func() bool {
		th.h.lanes.mu.Lock()
		defer th.h.lanes.mu.Unlock()
		return len(th.h.lanes.queued) == 0
	}, 5*time.Second, time.Millisecond)
}

func (th *testHost) requireEmpty() {
	th.t.Helper()
	require.Eventually(th.t, func() bool {
		for _, w := range th.ws {
			if w.empty() != "" {
				return false
			}
		}
		rooms, peers := th.h.Counts()
		return rooms == 0 && peers == 0
	}, 5*time.Second, 5*time.Millisecond, "left behind: %v", th.describe())
}

func (th *testHost) describe() string {
	s := ""
	for _, w := range th.ws {
		s += w.empty() + "; "
	}
	rooms, peers := th.h.Counts()
	return s + fmt.Sprintf("rooms %d peers %d", rooms, peers)
}

func consumes(w *fakeWorker, transportID, producerID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.consumers[[2]string{transportID, producerID}]
}

func TestProducerEventsForOneTransportAreHandledInOrder(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	l, ls := th.join("r", "listener", false)
	var pubs []string
	for i := 0; i < 20; i++ {
		id, _ := th.join("r", fmt.Sprint("p", i), true)
		pubs = append(pubs, id)
	}
	w := th.ws[0]
	// Each publisher's track starts and ends at once, five times over: every
	// producer.closed comes right behind its producer.new, for 20 transports
	// in parallel. Handled out of order, a producer ends up "producing".
	for round := 0; round < 5; round++ {
		for _, id := range pubs {
			p := th.h.peer(id)
			w.produce(id, p.producerID)
			th.h.HandleEvent(w.ref, ipc.ProducerNewEvent{RouterID: p.router.id, TransportID: id, ProducerID: p.producerID})
			w.endTrack(id)
			th.h.HandleEvent(w.ref, ipc.ProducerClosedEvent{RouterID: p.router.id, TransportID: id, ProducerID: p.producerID})
		}
	}
	th.h.Stop() // waits for every lane
	d, err := th.h.Room("r")
	require.NoError(t, err)
	for _, p := range d.PeerList {
		require.False(t, p.Publishing, "peer %s still publishing after its last producer.closed", p.Identity)
	}
	// The listener heard each producer come and go, in that order, five times.
	byProducer := map[string][]string{}
	ls.mu.Lock()
	for _, m := range ls.msgs {
		if e, ok := m.(wire.ProducerEvent); ok {
			byProducer[e.ProducerID] = append(byProducer[e.ProducerID], e.Type)
		}
	}
	ls.mu.Unlock()
	require.Len(t, byProducer, 20)
	for pr, seq := range byProducer {
		require.Len(t, seq, 10, pr)
		for i, typ := range seq {
			want := wire.TypeProducerAdded
			if i%2 == 1 {
				want = wire.TypeProducerRemoved
			}
			require.Equal(t, want, typ, "producer %s events %v", pr, seq)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.consumers {
		require.NotEqual(t, l, k[0], "the listener still consumes %s", k[1])
	}
}

func TestASlowWorkerCallDoesNotFreezeTheRoom(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	w := th.ws[0]
	p, _ := th.join("r", "pub", true)
	l, _ := th.join("r", "listener", false)
	th.produce(p)
	th.settle()
	require.True(t, consumes(w, l, th.h.peer(p).producerID))

	// A joiner's transport takes forever on the worker.
	release := w.holdMethod(ipc.MethodTransportCreate)
	slow, _ := th.admit("r", "slow", false)
	connected := make(chan error, 1)
	go func() { connected <- th.h.Connect(context.Background(), slow) }()
	require.Eventually(t, func() bool { return w.count(ipc.MethodTransportCreate) >= 3 }, 5*time.Second, time.Millisecond)

	// Meanwhile the room's other peers and its admin go on.
	quick := func(name string, f func()) {
		done := make(chan struct{})
		go func() { f(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("%s waited for the slow join", name)
		}
	}
	quick("mute", func() { require.NoError(t, th.h.Mute(p, true)) })
	quick("admin read", func() {
		d, err := th.h.Room("r")
		require.NoError(t, err)
		require.Len(t, d.PeerList, 3)
	})
	quick("another admission", func() { th.admit("r", "next", false) })
	quick("leave", func() { th.h.Leave(l) })
	w.mu.Lock()
	require.True(t, w.paused[th.h.peer(p).producerID], "the mute reached the worker")
	w.mu.Unlock()

	release()
	require.NoError(t, <-connected)
	th.settle()
	require.True(t, consumes(w, slow, th.h.peer(p).producerID), "the slow joiner consumes the publisher once its transport exists")
}

func TestLeaveWhileConnectingUndoesTheJoin(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	w := th.ws[0]
	release := w.holdMethod(ipc.MethodTransportCreate)
	id, s := th.admit("r", "j", false)
	connected := make(chan error, 1)
	go func() { connected <- th.h.Connect(context.Background(), id) }()
	require.Eventually(t, func() bool { return w.count(ipc.MethodTransportCreate) == 1 }, 5*time.Second, time.Millisecond)
	th.h.Leave(id) // the client's leave, sent while its join is set up
	release()
	require.ErrorIs(t, <-connected, ErrRoomClosed)
	th.requireEmpty()
	require.Contains(t, s.types(), wire.TypeJoined)
}

func TestAJoinWhoseCallerGivesUpLeaves(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	other, _ := th.join("r", "other", true)
	w := th.ws[0]
	release := w.holdMethod(ipc.MethodTransportCreate)
	defer release()
	id, _ := th.admit("r", "j", false)
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan error, 1)
	go func() { connected <- th.h.Connect(ctx, id) }()
	require.Eventually(t, func() bool { return w.count(ipc.MethodTransportCreate) == 2 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-connected, context.Canceled)
	_, ok := th.h.PeerWorker(id)
	require.False(t, ok, "a given-up join leaves")
	_, ok = th.h.PeerWorker(other)
	require.True(t, ok)
}

func TestMuteSentWhileJoiningIsKept(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	id, _ := th.admit("r", "p", true)
	require.NoError(t, th.h.Mute(id, true), "mute before the media is set up")
	require.NoError(t, th.h.Connect(context.Background(), id))
	pr := th.produce(id)
	th.settle()
	w := th.ws[0]
	w.mu.Lock()
	defer w.mu.Unlock()
	require.True(t, w.paused[pr], "the producer starts paused")
}

func TestAClosedRoomRefusesJoinsThatRaceItsClose(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	a, as := th.join("r", "a", true)
	n, err := th.h.CloseRoom("r")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, wire.CodeRoomClosed, as.ended)
	_, err = th.h.Admit(JoinRequest{Room: "r", Identity: "late", Session: &fakeSession{}})
	require.ErrorIs(t, err, ErrRoomClosed)
	th.h.Leave(a) // the ended session's leave
	th.requireEmpty()
	th.join("r", "again", false) // a new room of that name
	_, err = th.h.CloseRoom("nope")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestRoomSpreadsThroughPipesAndCleansUp(t *testing.T) {
	th := newTestHost(t, 2, placement.Limits{MaxConsumers: 8, MaxProducers: 200, Headroom: 0.25})
	a, _ := th.join("big", "a", true)
	b, _ := th.join("big", "b", true)
	pa, pb := th.produce(a), th.produce(b)
	th.settle()
	l1, _ := th.join("big", "l1", false)
	l2, _ := th.join("big", "l2", false)
	l3, _ := th.join("big", "l3", false)
	require.Equal(t, th.ws[0], th.worker(l1))
	require.Equal(t, th.ws[1], th.worker(l2))
	require.Equal(t, th.ws[1], th.worker(l3))
	_, err := th.h.Admit(JoinRequest{Room: "big", Identity: "l4", Session: &fakeSession{}})
	require.ErrorIs(t, err, ErrNoCapacity)
	for _, l := range []string{l2, l3} {
		require.True(t, consumes(th.ws[1], l, pa))
		require.True(t, consumes(th.ws[1], l, pb))
	}
	d, err := th.h.Room("big")
	require.NoError(t, err)
	require.Len(t, d.PipeList, 1, "one pipe per router pair")
	require.Len(t, d.PipeList[0].Flows, 2)
	for _, f := range d.PipeList[0].Flows {
		require.Equal(t, 2, f.Consumers)
	}
	require.Equal(t, 1, th.ws[0].count(ipc.MethodPipeCreate))

	// Muting a piped producer pauses it on both workers.
	require.NoError(t, th.h.Mute(a, true))
	for _, w := range th.ws {
		w.mu.Lock()
		require.True(t, w.paused[pa], "worker %s", w.ref)
		w.mu.Unlock()
	}

	th.h.Leave(l2)
	th.h.Leave(l3)
	require.Empty(t, th.ws[1].empty(), "worker 1 keeps nothing once its last peer left")
	th.ws[0].mu.Lock()
	require.Empty(t, th.ws[0].pipes)
	th.ws[0].mu.Unlock()
	for _, id := range []string{a, b, l1} {
		th.h.Leave(id)
	}
	th.requireEmpty()
}

func TestWorkerLostTellsItsPeersToReconnect(t *testing.T) {
	th := newTestHost(t, 2, placement.Limits{MaxConsumers: 8, MaxProducers: 200, Headroom: 0.25})
	a, as := th.join("pk", "a", true)
	b, _ := th.join("pk", "b", true)
	th.produce(a)
	th.produce(b)
	th.settle()
	l1, _ := th.join("pk", "l1", false)
	l2, l2s := th.join("pk", "l2", false)
	require.Equal(t, th.ws[1], th.worker(l2))
	th.h.WorkerLost(th.ws[1].ref)
	require.Equal(t, "worker_restarted", l2s.reconnect)
	require.Empty(t, as.reconnect)
	th.h.Leave(l2) // its session ends
	th.ws[0].mu.Lock()
	require.Empty(t, th.ws[0].pipes, "the near end of the pipe to the dead worker is closed")
	th.ws[0].mu.Unlock()
	for _, id := range []string{a, b, l1} {
		th.h.Leave(id)
	}
	th.ws[1] = newFakeWorker(1) // what was on the dead one died with it
	th.h.place.workers = fakeWorkers{th.ws}
	th.requireEmpty()
}

func TestConcurrentJoinsAndLeavesLeaveNothingBehind(t *testing.T) {
	th := newTestHost(t, 2, placement.Limits{MaxConsumers: 14, MaxProducers: 200, Headroom: 0.2})
	for _, w := range th.ws {
		w.jitter = 2 * time.Millisecond
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	joined, refused := 0, 0
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				s := &fakeSession{}
				publish := i%2 == 0
				adm, err := th.h.Admit(JoinRequest{Room: fmt.Sprint("race-", i%3), Identity: fmt.Sprint("p", i), Publish: publish, Session: s})
				if err != nil {
					if !errors.Is(err, ErrNoCapacity) {
						t.Errorf("admit %d: %v", i, err)
					}
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				if err := th.h.Connect(context.Background(), adm.PeerID); err != nil {
					t.Errorf("connect %d: %v", i, err)
					continue
				}
				mu.Lock()
				joined++
				mu.Unlock()
				if publish {
					th.produce(adm.PeerID)
				}
				time.Sleep(time.Duration(i%4) * time.Millisecond)
				th.h.Leave(adm.PeerID)
			}
		}()
	}
	wg.Wait()
	t.Logf("joined %d, refused %d", joined, refused)
	require.Positive(t, joined)
	th.settle()
	th.requireEmpty()
}

func TestAnAnswerSentWhileTheJoinIsSetUpWaitsForTheTransport(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	w := th.ws[0]
	release := w.holdMethod(ipc.MethodTransportCreate)
	id, _ := th.admit("r", "early", false)
	connected := make(chan error, 1)
	go func() { connected <- th.h.Connect(context.Background(), id) }()
	answered := make(chan error, 1)
	go func() { answered <- th.h.Answer(context.Background(), id, "v=0") }()
	require.Never(t, func() bool { return len(answered) > 0 }, 100*time.Millisecond, 5*time.Millisecond, "answered before the transport exists")
	release()
	require.NoError(t, <-connected)
	require.NoError(t, <-answered)
	require.Equal(t, 1, w.count(ipc.MethodTransportAnswer))

	// A peer that leaves while its answer waits gets not_joined, not a hang.
	release = w.holdMethod(ipc.MethodTransportCreate)
	defer release()
	id2, _ := th.admit("r", "leaver", false)
	go func() { _ = th.h.Connect(context.Background(), id2) }()
	go func() { answered <- th.h.Answer(context.Background(), id2, "v=0") }()
	th.h.Leave(id2)
	require.ErrorIs(t, <-answered, ErrNotJoined)
}
