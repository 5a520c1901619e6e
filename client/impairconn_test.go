package client

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/testenv"
)

// TestPacedConnImpairsBothWays: once connected, an impaired socket drops the
// media it receives before the tap sees it and the media it sends before the
// kernel does, tells OnImpairDrop which, counts both, and leaves STUN alone;
// before connecting it impairs nothing.
func TestPacedConnImpairsBothWays(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var mu sync.Mutex
	var tapped []uint16
	tap := func(_ uint32, seq uint16, _ uint32, _ int, _ time.Time) bool {
		mu.Lock()
		tapped = append(tapped, seq)
		mu.Unlock()
		return false
	}
	droppedIn, droppedOut := map[uint16]bool{}, map[uint16]bool{}
	ig := &impairing{m: Impairment{Loss: 0.2, Seed: 11}, onDrop: func(sent bool, ssrc uint32, seq uint16) {
		require.Equal(t, uint32(9), ssrc)
		mu.Lock()
		defer mu.Unlock()
		if sent {
			droppedOut[seq] = true
		} else {
			droppedIn[seq] = true
		}
	}}
	connected := &atomic.Bool{}
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, tap, 0, connected)
	require.NoError(t, err)
	c.imp = ig.socket()
	defer c.Close()
	peer := loopbackPeer(t)
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		buf := make([]byte, 1500)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()

	// The peer reads what the socket sends as it comes (a full buffer would drop it).
	got := map[uint16]bool{}
	stun := make(chan struct{})
	go func() {
		defer close(stun)
		buf := make([]byte, 1500)
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			k, _, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			if !isRTP(buf[:k]) {
				return
			}
			mu.Lock()
			got[uint16(buf[2])<<8|uint16(buf[3])] = true
			mu.Unlock()
		}
	}()

	// Not connected yet: nothing is impaired.
	for seq := range uint16(50) {
		_, err := c.WriteTo(rtpPacket(9, seq), peer.LocalAddr())
		require.NoError(t, err)
	}
	require.Zero(t, ig.stats().RTPSentDropped)

	connected.Store(true)
	const n = 2000
	for seq := uint16(100); seq < 100+n; seq++ {
		_, err := peer.WriteTo(rtpPacket(9, seq), c.LocalAddr())
		require.NoError(t, err)
		_, err = c.WriteTo(rtpPacket(9, seq), peer.LocalAddr())
		require.NoError(t, err)
		if seq%50 == 0 {
			time.Sleep(2 * time.Millisecond) // let the readers keep up
		}
	}
	_, err = c.WriteTo([]byte("stun-ish control, never dropped"), peer.LocalAddr())
	require.NoError(t, err)
	select {
	case <-stun:
	case <-time.After(5 * time.Second):
		t.Fatal("the control datagram never came")
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(tapped)+len(droppedIn) == n
	}, 2*time.Second, 10*time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	st := ig.stats()
	require.Equal(t, uint64(len(droppedOut)), st.RTPSentDropped)
	require.Equal(t, uint64(len(droppedIn)), st.RTPReceivedDropped)
	require.InDelta(t, 0.2, float64(len(droppedOut))/n, 0.04, "sent")
	require.InDelta(t, 0.2, float64(len(droppedIn))/n, 0.04, "received")
	for seq := uint16(100); seq < 100+n; seq++ {
		require.NotEqual(t, got[seq], droppedOut[seq], "seq %d: sent xor dropped on the way out", seq)
	}
	seen := map[uint16]bool{}
	for _, s := range tapped {
		seen[s] = true
		require.False(t, droppedIn[s], "seq %d: the tap never sees a packet dropped on the way in", s)
	}
	require.Equal(t, n, len(seen)+len(droppedIn))
	require.NoError(t, c.Close())
	<-reader
}

// TestPacedConnDelaysSends: a jittered send leaves late, from the delay line,
// and a closed socket's delay line stops.
func TestPacedConnDelaysSends(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ig := &impairing{m: Impairment{Reorder: 0.999, Seed: 2}}
	connected := &atomic.Bool{}
	connected.Store(true)
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil, 0, connected)
	require.NoError(t, err)
	c.imp = ig.socket()
	peer := loopbackPeer(t)
	start := time.Now()
	_, err = c.WriteTo(rtpPacket(1, 1), peer.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, 1500)
	_, _, err = peer.ReadFrom(buf)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), ReorderDelay)
	require.Equal(t, uint64(1), ig.stats().Reordered)
	require.NoError(t, c.Close())
}
