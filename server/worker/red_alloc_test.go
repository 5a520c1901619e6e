package worker

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// redListeners connects n listeners of "P" on w, RED-capable (they
// negotiated red/48000/2) or Opus only.
func redListeners(tb testing.TB, w *Worker, n int, red bool) []*testListener {
	tb.Helper()
	out := make([]*testListener, n)
	for i := range out {
		var opts []func(*webrtc.API)
		if red {
			opts = append(opts, webrtc.WithMediaEngine(redEngine(tb)))
		}
		out[i] = connectListener(tb, w, fmt.Sprint("T", i), nil, opts...)
	}
	return out
}

// nextRED moves a RED packet (raw and parsed alike) to its next sequence
// number, as the benchmarks' plain packets move.
func nextRED(raw []byte, pkt *rtp.Packet) {
	pkt.SequenceNumber++
	binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
}

// TestREDForwardingAllocatesNothing: a steady fan-out of RED, to listeners
// that take it as RED and to listeners that get its primary, and RED into
// pipes, make no allocation per packet (the bound as in
// TestForwardingAllocatesNothing: the peer connections' background work).
func TestREDForwardingAllocatesNothing(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorkerWith(t, ipc.InitParams{Port: 46440, Loopback: true, RED: true})
	pr.redPT = redPayloadType
	ls := append(redListeners(t, w, 3, true), connectListener(t, w, "O1", nil), connectListener(t, w, "O2", nil))
	pkt := redPacketFor(1)
	raw, err := pkt.Marshal()
	require.NoError(t, err)
	require.NoError(t, pkt.Unmarshal(raw)) // pkt's payload in raw, as dispatch gets it
	require.Eventually(t, func() bool {
		nextRED(raw, pkt)
		pr.dispatch(raw, pkt)
		for _, l := range ls {
			if l.received.Load() == 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond)
	for i, l := range ls {
		require.True(t, l.t.route.Load().fast())
		require.Equal(t, i < 3, payloadTypes(l.c.pts.Load()).red() != 0, "listener %d negotiated RED: %v", i, i < 3)
		l.redirectToDrain(t)
	}
	allocs := leastAllocsPerRun(200, func() {
		nextRED(raw, pkt)
		pr.dispatch(raw, pkt)
	})
	require.Less(t, allocs, 1.0, "allocations per RED fan-out to 5 listeners")

	// SRTP's pooled buffers allocate under the race detector (see
	// pipeForwardingAllocs): there the pipes are plain.
	src, _ := producerIntoPipes(t, 2, !raceEnabled)
	src.redPT = redPayloadType
	src.dispatch(raw, pkt)
	require.Zero(t, leastAllocsPerRun(200, func() {
		nextRED(raw, pkt)
		src.dispatch(raw, pkt)
	}), "allocations per RED packet into 2 pipes")
}
