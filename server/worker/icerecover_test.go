package worker

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// blockableConn is a client's UDP socket on a path that can be blocked: while
// blocked, what it sends is lost and what reaches it is dropped unread, as a
// firewall dropping both ways would (deterministic, no iptables).
type blockableConn struct {
	net.PacketConn
	blocked atomic.Bool
}

func (c *blockableConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.blocked.Load() {
			return n, addr, err
		}
	}
}

func (c *blockableConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.blocked.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// blockableClient tunes a test client to do ICE through one blockable loopback
// socket, closed when the test ends.
func blockableClient(tb testing.TB) (*blockableConn, func(*webrtc.SettingEngine)) {
	tb.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(tb, err)
	conn := &blockableConn{PacketConn: udp}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	tb.Cleanup(func() { _ = mux.Close() })
	return conn, func(se *webrtc.SettingEngine) { se.SetICEUDPMux(mux) }
}

// heard sends n packets from producer pr, starting at seq, and waits until l
// has decrypted all of them.
func heard(tb testing.TB, pr *producer, l *testListener, seq uint16, n int) {
	tb.Helper()
	before := l.received.Load()
	for i := range n {
		raw, pkt := opusPacket(seq + uint16(i))
		pr.dispatch(raw, pkt)
		time.Sleep(2 * time.Millisecond)
	}
	require.Eventually(tb, func() bool { return l.received.Load()-before >= int64(n) }, 5*time.Second, 5*time.Millisecond,
		"the listener hears the producer")
	require.Equal(tb, l.c.ssrc, l.last.Load().SSRC)
}

// TestAJoinWhoseFirstChecksAreLostConnects: a client whose first 2 s of UDP
// are lost both ways (pion's default would have failed every pair after
// 1.6 s and never nominated) connects within a second of the path opening.
func TestAJoinWhoseFirstChecksAreLostConnects(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46600)
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T"}))
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}))
	tr := w.transports["T"]
	waitGathered(t, tr)
	conn, tune := blockableClient(t)
	l := &testListener{t: tr, c: tr.consumers["P"], pc: newTestClient(t, tune)}
	l.pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			l.received.Add(1)
			l.last.Store(pkt)
		}
	})

	conn.blocked.Store(true)
	l.answer(t)
	time.Sleep(2 * time.Second)
	require.NotEqual(t, webrtc.PeerConnectionStateConnected, tr.pc.ConnectionState(), "nothing got through yet")
	conn.blocked.Store(false)
	opened := time.Now()
	require.Eventually(t, func() bool { return tr.route.Load() != nil && l.c.bound.Load() }, 5*time.Second, 5*time.Millisecond,
		"the transport connects once the path works")
	require.Less(t, time.Since(opened), time.Second, "within a second of the path opening")
	require.True(t, tr.route.Load().fast())
	heard(t, pr, l, 1, 20)
}

// TestAnOutageShorterThanICEFailedAfterHeals: a path lost for longer than
// the worker's old fixed bound (disconnected + 2 × disconnected, scaled here
// to 0.9 s) but shorter than ice_failed_after comes back by itself: the same
// transport, never failed, the same route keys and SSRC. Past
// ice_failed_after the transport fails.
func TestAnOutageShorterThanICEFailedAfterHeals(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	timing := iceTiming{consentInterval: 100 * time.Millisecond, disconnected: 300 * time.Millisecond, failed: 600 * time.Millisecond}
	w, pr := testWorker(t, 46610)
	w.api.timing = timing.withFailedAfter(3 * time.Second)
	require.Equal(t, 3*time.Second, w.api.timing.failedAfter())
	conn, tune := blockableClient(t)
	l := connectListener(t, w, "T", tune)
	tr := l.t
	keys := tr.route.Load().keys
	heard(t, pr, l, 1, 20)

	conn.blocked.Store(true)
	var disconnected bool
	for end := time.Now().Add(1800 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		s := tr.pc.ConnectionState()
		require.NotEqual(t, webrtc.PeerConnectionStateFailed, s, "not failed before ice_failed_after")
		disconnected = disconnected || s == webrtc.PeerConnectionStateDisconnected
	}
	require.True(t, disconnected, "the outage was seen")
	require.Greater(t, 1800*time.Millisecond, timing.failedAfter(), "longer than the old bound")
	conn.blocked.Store(false)
	require.Eventually(t, func() bool { return tr.pc.ConnectionState() == webrtc.PeerConnectionStateConnected }, time.Second, 5*time.Millisecond,
		"connected again soon after the path is back")
	require.Same(t, tr, w.transports["T"], "the same transport")
	require.Same(t, keys, tr.route.Load().keys, "the same SRTP keys")
	heard(t, pr, l, 21, 20)

	// Past ice_failed_after there is nothing to heal.
	w.api.timing = timing.withFailedAfter(time.Second)
	conn2, tune2 := blockableClient(t)
	l2 := connectListener(t, w, "T2", tune2)
	conn2.blocked.Store(true)
	require.Eventually(t, func() bool { return l2.t.pc.ConnectionState() == webrtc.PeerConnectionStateFailed }, 5*time.Second, 10*time.Millisecond,
		"failed after ice_failed_after")
}

// TestICEFailedAfterSetsTheTiming: rtc.ice_failed_after is the whole silence
// a transport survives, and pion checks a pair for as long.
func TestICEFailedAfterSetsTheTiming(t *testing.T) {
	require.Equal(t, 30*time.Second, defaultICETiming.failedAfter(), "RFC 7675's 30 s by default")
	tm := defaultICETiming.withFailedAfter(45 * time.Second)
	require.Equal(t, 45*time.Second, tm.failedAfter())
	require.Equal(t, 10*time.Second, tm.disconnected)
	require.Equal(t, uint16(225), tm.maxChecks())
	require.Equal(t, defaultICETiming, defaultICETiming.withFailedAfter(0))
	require.Equal(t, uint16(1<<16-1), defaultICETiming.withFailedAfter(24*time.Hour).maxChecks())
	require.Equal(t, defaultICETiming.disconnected+defaultICETiming.consentInterval, defaultICETiming.withFailedAfter(time.Second).failedAfter(),
		"never failed before disconnected")
}
