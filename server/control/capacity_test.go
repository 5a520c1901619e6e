package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

func capacityConfig(maxConsumers int, headroom float64) config.Config {
	cfg := testConfig(2)
	cfg.Worker.MaxConsumers = maxConsumers
	cfg.Worker.PipeHeadroom = headroom
	return cfg
}

func (h *harness) tryConnect(room, identity string, publish bool) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token(room, identity, publish, time.Hour), Publish: publish, Level: 30, LoopbackOnly: true})
	if err == nil {
		h.t.Cleanup(c.Close)
	}
	return c, err
}

// requireNoCapacity accepts both forms of refusal: HTTP 503 before the upgrade
// (no worker has room for anyone) and the signalling error (no room for this join).
func requireNoCapacity(t *testing.T, err error) {
	t.Helper()
	var se *client.ServerError
	var he *client.HTTPError
	switch {
	case errors.As(err, &se):
		require.Equal(t, wire.CodeNoCapacity, se.Msg.Code)
		require.Contains(t, se.Msg.Message, "capacity")
	case errors.As(err, &he):
		require.Equal(t, http.StatusServiceUnavailable, he.Status)
		require.Equal(t, wire.CodeNoCapacity, he.Body.Code)
	default:
		t.Fatalf("want a no_capacity refusal, got %v", err)
	}
}

func (h *harness) workerOf(peerID string) int {
	ref, ok := h.c.host.PeerWorker(peerID)
	require.True(h.t, ok, "peer %s is not joined", peerID)
	return ref.Index
}

// liveUnits is a worker's measured load in capacity units.
func liveUnits(l ipc.Load) int { return l.Consumers + l.Producers + l.PipeConsumers }

func (h *harness) requireWithinCapacity() {
	for w := range h.c.sup.Len() {
		l := h.load(w)
		require.LessOrEqual(h.t, liveUnits(l), h.c.cfg.Worker.MaxConsumers, "worker %d over capacity: %+v", w, l)
	}
}

func TestRoomSpreadsOverWorkersThroughPipes(t *testing.T) {
	// Capacity 8, 25% headroom: a peer is placed on a worker only up to load 6.
	h := startHarness(t, capacityConfig(8, 0.25))
	a := h.connect("big", "a", true)
	b := h.connect("big", "b", true)
	hearsAll(t, []*client.Client{a, b}, 5) // both producing before listeners arrive
	l1 := h.connect("big", "l1", false)
	require.Equal(t, 0, h.workerOf(l1.PeerID()))
	l2 := h.connect("big", "l2", false)
	require.Equal(t, 1, h.workerOf(l2.PeerID()), "the room should spread to worker 1")
	l3 := h.connect("big", "l3", false)
	require.Equal(t, 1, h.workerOf(l3.PeerID()))

	_, err := h.tryConnect("big", "l4", false)
	requireNoCapacity(t, err)
	_, err = h.tryConnect("other-room", "x", true)
	requireNoCapacity(t, err)

	// Every listener hears both publishers, across the pipe too.
	for _, l := range []*client.Client{l1, l2, l3} {
		require.Eventually(t, func() bool { return l.Received(a.PeerID()) > 25 && l.Received(b.PeerID()) > 25 },
			10*time.Second, 50*time.Millisecond, "listener %s hears %v", l.PeerID(), l.ReceivedFrom())
	}
	hearsAll(t, []*client.Client{a, b}, 25)
	w1 := h.load(1)
	require.Equal(t, 1, w1.Pipes)
	require.Equal(t, 2, w1.PipeProducers)
	require.Equal(t, 2, h.load(0).PipeConsumers)
	h.requireWithinCapacity()

	// The admin API shows the spread room and its pipe.
	ctx := context.Background()
	room, err := h.admin().Room(ctx, "big")
	require.NoError(t, err)
	require.Len(t, room.Routers, 2)
	require.Len(t, room.PipeList, 1)
	require.Len(t, room.PipeList[0].Flows, 2)
	for _, f := range room.PipeList[0].Flows {
		require.Equal(t, 0, f.From)
		require.Equal(t, 1, f.To)
		require.Equal(t, 2, f.Consumers, "each piped producer feeds l2 and l3")
	}

	// Listeners leave: the pipe and worker 1's router go away.
	l2.Close()
	l3.Close()
	require.Eventually(t, func() bool {
		ws, err := h.admin().Workers(ctx)
		require.NoError(t, err)
		w0, w1 := ws[0], ws[1]
		return w1.Routers == 0 && w1.Pipes == 0 && w1.Producers == 0 && w1.PipeProducers == 0 && w1.Transports == 0 &&
			w0.Pipes == 0 && w0.PipeConsumers == 0 && w0.Routers == 1 && w0.Transports == 3
	}, 5*time.Second, 50*time.Millisecond)
	pipes, err := h.admin().Pipes(ctx)
	require.NoError(t, err)
	require.Empty(t, pipes)
	big, err := h.c.host.Room("big")
	require.NoError(t, err)
	require.Len(t, big.Routers, 1)
	require.Empty(t, big.PipeList)

	// There is room again.
	l4, err := h.tryConnect("big", "l4", false)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return l4.Received(a.PeerID()) > 10 }, 10*time.Second, 50*time.Millisecond)
}

func TestPipeCarriesBothDirections(t *testing.T) {
	// Capacity 6, 30% headroom (placement up to 4): with a publisher and a listener
	// on worker 0, the second publisher would make worker 0 carry 5, so it lands on
	// worker 1 (load 4) and worker 0 grows to 6 through the pipe.
	h := startHarness(t, capacityConfig(6, 0.3))
	a := h.connect("duo", "a", true)
	l := h.connect("duo", "l", false)
	b := h.connect("duo", "b", true)
	require.Equal(t, 0, h.workerOf(a.PeerID()))
	require.Equal(t, 0, h.workerOf(l.PeerID()))
	require.Equal(t, 1, h.workerOf(b.PeerID()))
	hearsAll(t, []*client.Client{a, b}, 25)
	require.Eventually(t, func() bool { return l.Received(a.PeerID()) > 25 && l.Received(b.PeerID()) > 25 }, 10*time.Second, 50*time.Millisecond)
	_, err := h.tryConnect("duo", "l2", false)
	requireNoCapacity(t, err)
	h.requireWithinCapacity()

	// Mute is mirrored across the pipe.
	require.NoError(t, a.Send(wire.Mute{Envelope: wire.Envelope{Type: wire.TypeMute}, Muted: true}))
	waitEvent(t, b, func(m *wire.PeerMuted) bool { return m.Muted })
	n := quietFrom(t, b, a.PeerID())
	require.Never(t, func() bool { return b.Received(a.PeerID()) > n+1 }, 400*time.Millisecond, 20*time.Millisecond)
	require.NoError(t, a.Send(wire.Mute{Envelope: wire.Envelope{Type: wire.TypeMute}, Muted: false}))
	require.Eventually(t, func() bool { return b.Received(a.PeerID()) > n+10 }, 5*time.Second, 50*time.Millisecond)

	b.Close()
	waitEvent(t, a, func(m *wire.PeerLeft) bool { return true })
	require.Eventually(t, func() bool {
		w0, w1 := h.load(0), h.load(1)
		return w0.Pipes == 0 && w1.Pipes == 0 && w1.Routers == 0 && w0.Consumers == 1 && w0.PipeProducers == 0 && w0.Producers == 1
	}, 5*time.Second, 50*time.Millisecond)
}

func TestParallelJoinsAndLeavesLeaveNoOrphans(t *testing.T) {
	h := startHarness(t, capacityConfig(14, 0.2))
	var wg sync.WaitGroup
	var mu sync.Mutex
	joined, refused := 0, 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 2; round++ {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				c, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token(fmt.Sprintf("race-%d", i%3), fmt.Sprintf("p%d", i), i%2 == 0, time.Hour),
					Publish: i%2 == 0, Level: 40, LoopbackOnly: true})
				cancel()
				mu.Lock()
				if err != nil {
					refused++
				} else {
					joined++
				}
				mu.Unlock()
				if err != nil {
					var se *client.ServerError
					var he *client.HTTPError
					if !(errors.As(err, &se) && se.Msg.Code == wire.CodeNoCapacity) && !(errors.As(err, &he) && he.Body.Code == wire.CodeNoCapacity) {
						t.Errorf("join %d: %v", i, err)
					}
					continue
				}
				time.Sleep(time.Duration(100+50*(i%4)) * time.Millisecond)
				c.Close()
			}
		}()
	}
	wg.Wait()
	t.Logf("joined %d, refused with no_capacity %d", joined, refused)
	require.Positive(t, joined)
	require.Eventually(t, func() bool {
		for w := range h.c.sup.Len() {
			l := h.load(w)
			if l.Routers+l.Transports+l.Producers+l.Consumers+l.Pipes+l.PipeConsumers+l.PipeProducers != 0 {
				return false
			}
		}
		rooms, peers := h.c.host.Counts()
		return rooms == 0 && peers == 0
	}, 10*time.Second, 100*time.Millisecond, "orphans left: w0 %+v w1 %+v", h.load(0), h.load(1))
}

func TestWorkerWithPipeEndKilledLeavesNoOrphans(t *testing.T) {
	h := startHarness(t, capacityConfig(8, 0.25))
	a := h.connect("pk", "a", true)
	b := h.connect("pk", "b", true)
	hearsAll(t, []*client.Client{a, b}, 5)
	l1 := h.connect("pk", "l1", false)
	l2 := h.connect("pk", "l2", false)
	require.Equal(t, 1, h.workerOf(l2.PeerID()))
	require.Eventually(t, func() bool { return l2.Received(a.PeerID()) > 10 }, 10*time.Second, 50*time.Millisecond)

	// Worker 1 (the far end of the pipe) dies: its peer is told to reconnect, and
	// worker 0 drops its end of the pipe while its own peers keep talking.
	pid := h.c.Workers()[1].PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	r := waitEvent(t, l2, func(m *wire.Reconnect) bool { return true })
	require.Equal(t, "worker_restarted", r.Reason)
	require.Eventually(t, func() bool {
		w0 := h.load(0)
		return w0.Pipes == 0 && w0.PipeConsumers == 0
	}, 10*time.Second, 50*time.Millisecond, "worker 0 still holds a pipe to the dead worker: %+v", h.load(0))
	n := l1.Received(a.PeerID())
	require.Eventually(t, func() bool { return l1.Received(a.PeerID()) > n+25 }, 10*time.Second, 50*time.Millisecond)

	// After the restart the room can spread to worker 1 again.
	require.Eventually(t, func() bool { w := h.c.Workers()[1]; return w.Ready && w.PID != pid }, 10*time.Second, 50*time.Millisecond)
	l3 := h.connect("pk", "l3", false)
	require.Equal(t, 1, h.workerOf(l3.PeerID()))
	require.Eventually(t, func() bool { return l3.Received(a.PeerID()) > 10 && l3.Received(b.PeerID()) > 10 }, 10*time.Second, 50*time.Millisecond)
}

func TestWorkerWithProducersKilledClosesPipedProducers(t *testing.T) {
	h := startHarness(t, capacityConfig(8, 0.25))
	a := h.connect("pk2", "a", true)
	b := h.connect("pk2", "b", true)
	hearsAll(t, []*client.Client{a, b}, 5)
	h.connect("pk2", "l1", false)
	l2 := h.connect("pk2", "l2", false)
	require.Equal(t, 1, h.workerOf(l2.PeerID()))
	require.Eventually(t, func() bool { return l2.Received(b.PeerID()) > 10 }, 10*time.Second, 50*time.Millisecond)

	// Worker 0 holds both producers; when it dies, the listener on worker 1 is
	// told they are gone and worker 1 keeps no piped producer or pipe.
	require.NoError(t, syscall.Kill(h.c.Workers()[0].PID, syscall.SIGKILL))
	removed := map[string]bool{}
	waitEvent(t, l2, func(m *wire.ProducerEvent) bool {
		if m.Type == wire.TypeProducerRemoved {
			removed[m.PeerID] = true
		}
		return removed[a.PeerID()] && removed[b.PeerID()]
	})
	require.Eventually(t, func() bool {
		w1 := h.load(1)
		return w1.Pipes == 0 && w1.PipeProducers == 0 && w1.Producers == 0 && w1.Consumers == 0 && w1.Transports == 1
	}, 10*time.Second, 50*time.Millisecond, "worker 1: %+v", h.load(1))
}
