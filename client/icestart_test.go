package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/testenv"
)

func iceUfrag(t *testing.T, sdp string) string {
	t.Helper()
	_, rest, ok := strings.Cut(sdp, "a=ice-ufrag:")
	require.True(t, ok, sdp)
	return strings.Fields(rest)[0]
}

// TestRenegotiationRightAfterTheFirstAnswerKeepsICE: the worker's second offer
// can reach a client right after its first answer. Waiting for the ICE
// transport keeps pion from taking it for an ICE restart (without the wait, 17
// of 40 pairs restarted).
func TestRenegotiationRightAfterTheFirstAnswerKeepsICE(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	for i := range 40 {
		offerer, answerer := loopbackPC(t), loopbackPC(t)
		offer, err := offerer.CreateOffer(nil)
		require.NoError(t, err)
		require.NoError(t, offerer.SetLocalDescription(offer))
		require.NoError(t, answerer.SetRemoteDescription(offer))
		first, err := answerer.CreateAnswer(nil)
		require.NoError(t, err)
		require.NoError(t, answerer.SetLocalDescription(first))
		require.NoError(t, offerer.SetRemoteDescription(first))

		_, err = offerer.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
		require.NoError(t, err)
		again, err := offerer.CreateOffer(nil)
		require.NoError(t, err)
		require.NoError(t, offerer.SetLocalDescription(again))
		require.True(t, awaitICEStart(t.Context(), answerer, iceStartLimit), "pair %d", i)
		require.NoError(t, answerer.SetRemoteDescription(again))
		second, err := answerer.CreateAnswer(nil)
		require.NoError(t, err)
		require.Equal(t, iceUfrag(t, first.SDP), iceUfrag(t, second.SDP), "pair %d restarted ICE", i)

		require.NoError(t, offerer.Close())
		require.NoError(t, answerer.Close())
	}
}

// TestAwaitICEStartGivesUp: a transport that never starts (no remote
// description) is waited for until the limit or the context ends, not longer.
func TestAwaitICEStartGivesUp(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	pc := loopbackPC(t)
	start := time.Now()
	require.False(t, awaitICEStart(t.Context(), pc, 50*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	require.False(t, awaitICEStart(ctx, pc, time.Hour))
	require.NoError(t, pc.Close())
}
