package client

import (
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/testenv"
)

func rtpPacket(ssrc uint32, seq uint16) []byte {
	return []byte{0x80, 111, byte(seq >> 8), byte(seq), 0, 0, 0, 1, byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc), 0xAA}
}

// tapRecorder is a tap that counts the RTP packets it sees, remembers the last
// arrival time, and keeps those keep says.
type tapRecorder struct {
	tapped      atomic.Int32
	lastArrival atomic.Int64
	keep        func(ssrc uint32, seq uint16, size int) bool
}

func (r *tapRecorder) tap(ssrc uint32, seq uint16, _ uint32, size int, at time.Time) bool {
	r.tapped.Add(1)
	r.lastArrival.Store(at.UnixNano())
	return r.keep(ssrc, seq, size)
}

// loopbackPeer is the other end of a paced socket.
func loopbackPeer(t *testing.T) *net.UDPConn {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = peer.Close() })
	return peer
}

// requireReadEnds starts a read on c, does stop, and requires the read to end with want.
func requireReadEnds(t *testing.T, c *pacedConn, stop func() error, want error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, _, err := c.ReadFrom(make([]byte, 1500)); done <- err }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, stop())
	select {
	case err := <-done:
		require.ErrorIs(t, err, want)
	case <-time.After(2 * time.Second):
		t.Fatalf("read still waiting, want %v", want)
	}
}

// TestPacedConnTapsAndDelivers: before the connection is up datagrams are read
// at once; RTP goes to the tap (with kernel arrival times) and only what it
// keeps reaches the reader, with the sender's address; writes go out.
func TestPacedConnTapsAndDelivers(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := &tapRecorder{keep: func(ssrc uint32, seq uint16, size int) bool {
		require.Equal(t, uint32(7), ssrc)
		require.Equal(t, 13, size)
		return seq%2 == 0 // keep even sequence numbers
	}}
	connected := &atomic.Bool{}
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, rec.tap, time.Second, connected)
	require.NoError(t, err)
	defer c.Close()
	peer := loopbackPeer(t)

	sent := time.Now()
	for seq := uint16(1); seq <= 4; seq++ {
		_, err = peer.WriteTo(rtpPacket(7, seq), c.LocalAddr())
		require.NoError(t, err)
	}
	_, err = peer.WriteTo([]byte("stun-ish control"), c.LocalAddr())
	require.NoError(t, err)

	buf := make([]byte, 1500)
	var got []byte
	for range 3 { // seq 2, seq 4, the control datagram
		n, from, err := c.ReadFrom(buf)
		require.NoError(t, err)
		require.Equal(t, peer.LocalAddr().String(), from.String())
		if n != 13 {
			require.Equal(t, "stun-ish control", string(buf[:n]))
			got = append(got, buf[0])
			continue
		}
		got = append(got, buf[3])
	}
	require.Equal(t, []byte{2, 4, 's'}, got)
	require.EqualValues(t, 4, rec.tapped.Load())
	at := time.Unix(0, rec.lastArrival.Load())
	require.WithinDuration(t, sent, at, time.Second, "kernel arrival time")
	require.True(t, c.stamped)

	_, err = c.WriteTo([]byte("back"), peer.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, _, err := peer.ReadFrom(buf)
	require.NoError(t, err)
	require.Equal(t, "back", string(buf[:n]))
}

// TestPacedConnBatchesOnceConnected: once connected the socket is read once a
// pace, all that queued up in one go, by the shared drainer.
func TestPacedConnBatchesOnceConnected(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	connected := &atomic.Bool{}
	connected.Store(true)
	const pace = 150 * time.Millisecond
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil, pace, connected)
	require.NoError(t, err)
	defer c.Close()
	peer := loopbackPeer(t)
	for seq := uint16(0); seq < 5; seq++ {
		_, err = peer.WriteTo(rtpPacket(1, seq), c.LocalAddr())
		require.NoError(t, err)
	}
	buf := make([]byte, 1500)
	_, _, err = c.ReadFrom(buf)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(c.queue) == 4 }, pace*2/3, time.Millisecond,
		"one drain took the whole queue, not the next one a pace later")
	for range 4 {
		_, _, err = c.ReadFrom(buf)
		require.NoError(t, err)
	}

	// The next datagram waits for the socket's turn, a pace after the last.
	sent := time.Now()
	_, err = peer.WriteTo(rtpPacket(1, 5), c.LocalAddr())
	require.NoError(t, err)
	_, _, err = c.ReadFrom(buf)
	require.NoError(t, err)
	waited := time.Since(sent)
	require.Greater(t, waited, pace/2, "read before its turn")
	require.Less(t, waited, 3*pace, "read much later than a pace")
}

// TestPacedConnHandsOverToTheDrainer: a reader that saw the connection come up
// leaves the socket to the drainer; the tap still sees every RTP packet (with
// kernel arrival times), the reader gets the rest and what the tap keeps, a
// deadline and a close end its wait, and the drainer stops with its last socket.
func TestPacedConnHandsOverToTheDrainer(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := &tapRecorder{keep: func(_ uint32, seq uint16, _ int) bool { return seq == 3 }}
	connected := &atomic.Bool{}
	const pace = 30 * time.Millisecond
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, rec.tap, pace, connected)
	require.NoError(t, err)
	peer := loopbackPeer(t)
	buf := make([]byte, 1500)

	_, err = peer.WriteTo([]byte("dtls-ish"), c.LocalAddr())
	require.NoError(t, err)
	n, _, err := c.ReadFrom(buf)
	require.NoError(t, err)
	require.Equal(t, "dtls-ish", string(buf[:n]))
	require.False(t, c.handedOver, "read by the reader itself before connecting")

	connected.Store(true)
	sent := time.Now()
	for seq := uint16(1); seq <= 40; seq++ {
		_, err = peer.WriteTo(rtpPacket(9, seq), c.LocalAddr())
		require.NoError(t, err)
	}
	_, err = peer.WriteTo([]byte("stun-ish"), c.LocalAddr())
	require.NoError(t, err)
	var got []string
	for range 2 {
		n, from, err := c.ReadFrom(buf)
		require.NoError(t, err)
		require.Equal(t, peer.LocalAddr().String(), from.String())
		got = append(got, string(buf[:n]))
	}
	require.True(t, c.handedOver)
	require.Equal(t, string(rtpPacket(9, 3)), got[0], "the RTP packet the tap kept")
	require.Equal(t, "stun-ish", got[1])
	require.EqualValues(t, 40, rec.tapped.Load(), "every RTP packet tapped, more than one batch")
	require.WithinDuration(t, sent, time.Unix(0, rec.lastArrival.Load()), time.Second, "kernel arrival time")

	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, _, err = c.ReadFrom(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Time{}))

	// A deadline set while a read waits on the queue, then a close.
	requireReadEnds(t, c, func() error { return c.SetReadDeadline(time.Now()) }, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	requireReadEnds(t, c, c.Close, net.ErrClosed)
}

// TestPacedConnCloseAndDeadline: a read blocked before the connection is up
// returns on a past deadline and on close; a closed conn refuses everything.
func TestPacedConnCloseAndDeadline(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil, time.Second, &atomic.Bool{})
	require.NoError(t, err)
	requireReadEnds(t, c, func() error { return c.SetDeadline(time.Now()) }, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetDeadline(time.Time{}))
	requireReadEnds(t, c, c.Close, net.ErrClosed)
	require.ErrorIs(t, c.Close(), net.ErrClosed)
	_, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv6loopback, Port: 9})
	require.Error(t, err, "IPv6 destination")
	c.mu.Lock()
	require.Equal(t, -1, c.fd, "descriptor closed with its last user")
	c.mu.Unlock()
}

// TestSinkCountsWhatArrives: the floor's sink reads what is sent to it.
func TestSinkCountsWhatArrives(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	s, err := ListenSink(20 * time.Millisecond)
	require.NoError(t, err)
	peer := loopbackPeer(t)
	for seq := uint16(0); seq < 40; seq++ {
		_, err = peer.WriteTo(rtpPacket(3, seq), s.Addr())
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return s.Received() == 40 }, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, s.Close())
}
