package worker

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// TestHandshakesCountTransportsWhileTheyConnect: a transport counts as
// connecting (fan-outs hand the P over) from its first checks until it
// connects, closes or has tried for the limit, never before and never twice.
func TestHandshakesCountTransportsWhileTheyConnect(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46390)
	w.handshakeLimit = 400 * time.Millisecond
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "waiting"}))
	require.Zero(t, w.handshakes.Load(), "a listener with nobody to hear has nothing to connect")

	// A peer that answers and is gone before the worker's checks reach it.
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "gone"}))
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "gone", ProducerID: "P"}))
	gone := w.transports["gone"]
	waitGathered(t, gone)
	peer := &testListener{t: gone, pc: newTestClient(t, nil)}
	answer := peer.localAnswer(t)
	require.NoError(t, peer.pc.Close())
	require.NoError(t, gone.applyAnswer(answer))
	require.Eventually(t, func() bool { return w.handshakes.Load() == 1 }, 5*time.Second, time.Millisecond,
		"checking a peer counts")
	require.Eventually(t, func() bool { return w.handshakes.Load() == 0 }, 5*time.Second, 5*time.Millisecond,
		"not past the limit, though pion is still checking")
	require.NotEqual(t, webrtc.PeerConnectionStateFailed, gone.pc.ConnectionState())

	connectListener(t, w, "L", nil)
	require.Eventually(t, func() bool { return w.handshakes.Load() == 0 }, 5*time.Second, time.Millisecond,
		"the connected listener no longer counts")

	for _, id := range []string{"waiting", "gone", "L"} {
		tr := w.transports[id]
		w.closeTransport(tr)
		w.closeTransport(tr)
	}
	require.Zero(t, w.handshakes.Load(), "closing does not count a transport again")
	gone.handshakeStarted()
	require.Zero(t, w.handshakes.Load(), "a state change racing with the close does not count it")
}
