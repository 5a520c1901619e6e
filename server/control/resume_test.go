package control

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// cuttableDialer dials signalling connections it can cut (close the TCP
// connection under the WebSocket, as a dead NAT or a Wi-Fi hand-over
// does), and refuses dials while told to.
type cuttableDialer struct {
	mu      sync.Mutex
	conns   []net.Conn
	refuse  atomic.Bool
	refused atomic.Int32
}

func (d *cuttableDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.refuse.Load() {
		d.refused.Add(1)
		return nil, errors.New("network unreachable (test)")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *cuttableDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
}

// TestSignallingCutMidCallResumes: a client whose signalling TCP
// connection is cut mid-call, and that cannot reconnect for a second,
// keeps its media both ways all along (the peer is not ended), resumes
// with the same peer id, and gets what happened meanwhile (a peer that
// joined) once: it then hears that peer too.
func TestSignallingCutMidCallResumes(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.ResumeWindow = 10 * time.Second
	h := startHarness(t, cfg)
	alice := h.connect("r1", "alice", true)
	d := &cuttableDialer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bob, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token("r1", "bob", true, time.Hour), Publish: true, Level: 30,
		LoopbackOnly: true, DialContext: d.dial})
	require.NoError(t, err)
	t.Cleanup(bob.Close)
	hearsAll(t, []*client.Client{alice, bob}, 25)
	bobID := bob.PeerID()

	d.refuse.Store(true)
	d.cut()
	// Media flows every moment of the cut, both ways: packets in every half
	// second (50 at 20 ms; a quarter second went empty once beside the whole
	// suite on two cores, a scheduling stall rather than a stop).
	cutUntil := time.Now().Add(2 * time.Second)
	lastA, lastB := bob.Received(alice.PeerID()), alice.Received(bobID)
	var carol *client.Client
	for time.Now().Before(cutUntil) {
		time.Sleep(500 * time.Millisecond)
		a, b := bob.Received(alice.PeerID()), alice.Received(bobID)
		require.Greater(t, a, lastA, "bob stopped hearing alice during the cut")
		require.Greater(t, b, lastB, "alice stopped hearing bob during the cut")
		lastA, lastB = a, b
		if carol == nil {
			carol = h.connect("r1", "carol", true) // news for bob while he is away
		}
	}
	require.Zero(t, bob.Resumes(), "no resume while the network is down")
	require.Positive(t, d.refused.Load(), "bob tried to resume during the cut")
	d.refuse.Store(false)

	require.Eventually(t, func() bool { return bob.Resumes() == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, bobID, bob.PeerID())
	require.NoError(t, bob.Err())
	joined := waitEvent(t, bob, func(m *wire.PeerEvent) bool { return m.Peer.Identity == "carol" })
	require.Equal(t, carol.PeerID(), joined.Peer.ID)
	hearsAll(t, []*client.Client{alice, bob, carol}, 25)
	// Alice never saw bob leave.
	for {
		select {
		case ev := <-alice.Events():
			if m, ok := ev.(*wire.PeerLeft); ok {
				require.NotEqual(t, bobID, m.PeerID, "bob left during the cut")
			}
			continue
		default:
		}
		break
	}
	// The signalling works on: a mute reaches the others.
	require.NoError(t, bob.Send(wire.Mute{Envelope: wire.Envelope{Type: wire.TypeMute}, Muted: true}))
	waitEvent(t, alice, func(m *wire.PeerMuted) bool { return m.PeerID == bobID && m.Muted })
}

// TestResumeFailsAfterTheWindow: a client that cannot come back within
// the window ends with ErrResumeFailed, and its peer is gone.
func TestResumeFailsAfterTheWindow(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.ResumeWindow = 500 * time.Millisecond
	h := startHarness(t, cfg)
	alice := h.connect("r1", "alice", true)
	d := &cuttableDialer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bob, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token("r1", "bob", true, time.Hour), Publish: true, Level: 30,
		LoopbackOnly: true, DialContext: d.dial, ResumeWindow: 3 * time.Second})
	require.NoError(t, err)
	t.Cleanup(bob.Close)
	hearsAll(t, []*client.Client{alice, bob}, 25)
	bobID := bob.PeerID()
	d.refuse.Store(true)
	d.cut()
	waitEvent(t, alice, func(m *wire.PeerLeft) bool { return m.PeerID == bobID })
	d.refuse.Store(false)
	select {
	case <-bob.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bob never gave up")
	}
	require.ErrorIs(t, bob.Err(), client.ErrResumeFailed)
}
