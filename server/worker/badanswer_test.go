package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// TestARejectedAnswerLeavesTheTransportAnswerable: an answer the transport
// cannot apply is refused with bad_sdp, and the right answer to the same
// offer, sent after it, still connects (the defect: pion had left the offer
// state, so every later answer failed and the session was stuck).
func TestARejectedAnswerLeavesTheTransportAnswerable(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 47310)
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T"}))
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}))
	tr := w.transports["T"]
	waitGathered(t, tr)
	offer := tr.pc.LocalDescription().SDP

	for _, bad := range []string{
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", // no media section, no ICE credentials
		"v=0\r\nthis is not sdp",
		"",
	} {
		err := tr.applyAnswer(bad)
		var re *ipc.RemoteError
		require.True(t, errors.As(err, &re), "%q: %v", bad, err)
		require.Equal(t, ipc.CodeBadSDP, re.Code)
		require.Equal(t, webrtc.SignalingStateHaveLocalOffer, tr.pc.SignalingState(), "still waiting for an answer to the same offer")
		require.Equal(t, offer, tr.pc.LocalDescription().SDP)
	}

	cpc := newTestClient(t, nil)
	l := &testListener{t: tr, c: tr.consumers["P"], pc: cpc}
	l.answer(t)
	deadline := time.Now().Add(5 * time.Second)
	for tr.route.Load() == nil {
		require.True(t, time.Now().Before(deadline), "the right answer after a bad one connects")
		time.Sleep(5 * time.Millisecond)
	}
}
