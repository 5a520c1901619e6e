package control

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// The fault run: what peers and the supervisor do when a worker stops,
// hangs, or loses its pipe to control.

// roomsOnBothWorkers makes two rooms of a publisher and a listener each, one
// per worker, and says which room is on worker 0.
func roomsOnBothWorkers(t *testing.T, h *harness) (on0, on1 [2]*client.Client) {
	t.Helper()
	rooms := map[int][2]*client.Client{}
	for _, room := range []string{"first", "second"} {
		pub := h.connect(room, room+"-pub", true)
		sub := h.connect(room, room+"-sub", false)
		hears(t, sub, pub, 10)
		d, err := h.admin().Room(context.Background(), room)
		require.NoError(t, err)
		rooms[d.PeerList[0].Worker] = [2]*client.Client{pub, sub}
	}
	require.Len(t, rooms, 2, "the two rooms are on different workers")
	return rooms[0], rooms[1]
}

// restarted waits until peers were told to reconnect and worker 0, whose
// process was pid, runs again under a new one.
func restarted(t *testing.T, h *harness, pid int, peers ...*client.Client) {
	t.Helper()
	for _, c := range peers {
		r := waitEvent(t, c, func(m *wire.Reconnect) bool { return true })
		require.Equal(t, "worker_restarted", r.Reason)
	}
	require.Eventually(t, func() bool {
		w := h.c.Workers()[0]
		return w.Ready && w.PID != pid && w.Restarts == 1
	}, 10*time.Second, 50*time.Millisecond)
}

// hears waits until listener has n packets from publisher.
func hears(t *testing.T, listener, publisher *client.Client, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return listener.Received(publisher.PeerID()) >= n }, 10*time.Second, 20*time.Millisecond)
}

// TestWorkerStoppedThreeSeconds: a worker SIGSTOPped for 3 s (below
// worker.hang_timeout) costs its own peers 3 s of audio and nobody else
// anything; it is not restarted, its peers hear again once it runs, and the
// admin listing answers meanwhile.
func TestWorkerStoppedThreeSeconds(t *testing.T) {
	h := startHarness(t, testConfig(2))
	on0, on1 := roomsOnBothWorkers(t, h)
	pid := h.c.Workers()[0].PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	stopped := time.Now()
	before0, before1 := on0[1].Received(on0[0].PeerID()), on1[1].Received(on1[0].PeerID())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ws, err := h.admin().Workers(ctx)
	cancel()
	require.NoError(t, err, "the admin listing does not hang on a stopped worker")
	require.Len(t, ws, 2)

	time.Sleep(3*time.Second - time.Since(stopped))
	heard1 := on1[1].Received(on1[0].PeerID()) - before1
	require.Greater(t, heard1, uint64(100), "the other worker's listener kept hearing (50 packets/s)")
	require.LessOrEqual(t, on0[1].Received(on0[0].PeerID())-before0, uint64(5), "the stopped worker forwarded nothing")
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))

	after := on0[1].Received(on0[0].PeerID())
	hears(t, on0[1], on0[0], after+25) // the stopped worker's listener hears again
	w := h.c.Workers()[0]
	require.Equal(t, pid, w.PID)
	require.Zero(t, w.Restarts)
	for _, c := range append(on0[:], on1[:]...) {
		select {
		case <-c.Done():
			t.Fatalf("%s was disconnected", c.PeerID())
		default:
		}
	}
}

// TestHungWorkerIsRestarted: a worker that answers nothing for
// worker.hang_timeout is killed and restarted, and its peers are told to
// reconnect; the other worker's peers are left alone.
func TestHungWorkerIsRestarted(t *testing.T) {
	cfg := testConfig(2)
	cfg.Worker.HangTimeout = 2 * time.Second
	h := startHarness(t, cfg)
	on0, on1 := roomsOnBothWorkers(t, h)
	pid := h.c.Workers()[0].PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	restarted(t, h, pid, on0[:]...)
	hears(t, on1[1], on1[0], on1[1].Received(on1[0].PeerID())+10)
	require.Zero(t, h.c.Workers()[1].Restarts)
}

// TestWorkerExitsWhenControlsPipeCloses: with its stdin from control closed
// (control gone, or the pipe broken) a worker exits by itself rather than
// forwarding for nobody, and the supervisor starts a new one.
func TestWorkerExitsWhenControlsPipeCloses(t *testing.T) {
	h := startHarness(t, testConfig(1))
	a := h.connect("p", "a", true)
	b := h.connect("p", "b", true)
	hearsAll(t, []*client.Client{a, b}, 10)
	pid := h.c.Workers()[0].PID
	exited, err := h.c.sup.CloseStdin(0)
	require.NoError(t, err)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not exit when its stdin closed")
	}
	restarted(t, h, pid, a, b)
	a2 := h.connect("p", "a", true)
	b2 := h.connect("p", "b", true)
	hearsAll(t, []*client.Client{a2, b2}, 10)
}

// TestGarbageDatagramsLeaveTheWorkerServing: a flood of datagrams no peer
// sent (random bytes, RTP- and STUN-looking headers) at a worker's port costs
// no restart, and the room on it keeps its audio.
func TestGarbageDatagramsLeaveTheWorkerServing(t *testing.T) {
	h := startHarness(t, testConfig(1))
	pub := h.connect("g", "pub", true)
	sub := h.connect("g", "sub", false)
	hears(t, sub, pub, 10)
	w := h.c.Workers()[0]
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", w.Port))
	require.NoError(t, err)
	defer conn.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	pkt := make([]byte, 1200)
	for i := 0; i < 50000; i++ {
		n := 1 + rng.IntN(len(pkt))
		for j := range pkt[:n] {
			pkt[j] = byte(rng.Uint32())
		}
		switch i % 3 {
		case 0:
			pkt[0] = 0x80 // RTP version 2
		case 1:
			pkt[0], pkt[1] = 0, 1 // a STUN binding request's type
		}
		_, _ = conn.Write(pkt[:n])
	}
	hears(t, sub, pub, sub.Received(pub.PeerID())+50)
	after := h.c.Workers()[0]
	require.Equal(t, w.PID, after.PID)
	require.Zero(t, after.Restarts)
}
