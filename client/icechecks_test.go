package client

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/testenv"
)

// loopbackPC is a peer connection of this package's loopback-only API with an
// audio transceiver, so an offer has something to negotiate.
func loopbackPC(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	api, _, err := newAPI(Config{LoopbackOnly: true})
	require.NoError(t, err)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
	require.NoError(t, err)
	return pc
}

// completeDescription sets d as pc's local description and returns it with
// pc's candidates once gathered.
func completeDescription(t *testing.T, pc *webrtc.PeerConnection, d webrtc.SessionDescription) webrtc.SessionDescription {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(d))
	<-gathered
	return *pc.LocalDescription()
}

var checksRE = regexp.MustCompile(`host 127\.0\.0\.1:\d+ -> \S+ 127\.0\.0\.1:\d+ (\S+): checks sent (\d+) answered (\d+), received (\d+) answered (\d+)`)

// pairChecks returns the state and the four check counts of the one candidate pair iceChecks describes.
func pairChecks(t *testing.T, s string) (string, [4]int) {
	t.Helper()
	m := checksRE.FindAllStringSubmatch(s, -1)
	require.Len(t, m, 1, s)
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[0][2+i])
	}
	return m[0][1], n
}

// TestICEChecksTellAnsweredFromUnanswered: between two connected peers the
// description shows a succeeded pair whose checks were sent and answered both
// ways; against a peer that vanished after its answer, checks sent and none
// answered.
func TestICEChecksTellAnsweredFromUnanswered(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	offerer, answerer := loopbackPC(t), loopbackPC(t)
	connected := make(chan struct{})
	offerer.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offer, err := offerer.CreateOffer(nil)
	require.NoError(t, err)
	require.NoError(t, answerer.SetRemoteDescription(completeDescription(t, offerer, offer)))
	answer, err := answerer.CreateAnswer(nil)
	require.NoError(t, err)
	require.NoError(t, offerer.SetRemoteDescription(completeDescription(t, answerer, answer)))
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("peers did not connect")
	}
	s := iceChecks(offerer.GetStats())
	require.Contains(t, s, "candidates 1 local, 1 remote")
	state, n := pairChecks(t, s)
	require.Equal(t, "succeeded", state, s)
	require.Positive(t, n[0], s)
	require.Positive(t, n[1], s)

	lonely, gone := loopbackPC(t), loopbackPC(t)
	offer, err = lonely.CreateOffer(nil)
	require.NoError(t, err)
	require.NoError(t, gone.SetRemoteDescription(completeDescription(t, lonely, offer)))
	answer, err = gone.CreateAnswer(nil)
	require.NoError(t, err)
	answer = completeDescription(t, gone, answer)
	require.NoError(t, gone.Close())
	require.NoError(t, lonely.SetRemoteDescription(answer))
	require.Eventually(t, func() bool {
		// The pair may not be in the stats yet on a loaded machine: wait for it
		// rather than fail inside the condition.
		m := checksRE.FindAllStringSubmatch(iceChecks(lonely.GetStats()), -1)
		if len(m) != 1 {
			return false
		}
		sent, _ := strconv.Atoi(m[0][2])
		return sent >= 3
	}, 10*time.Second, 50*time.Millisecond)
	state, n = pairChecks(t, iceChecks(lonely.GetStats()))
	require.NotEqual(t, "succeeded", state)
	require.Zero(t, n[1], "answered checks to a closed peer: %s", iceChecks(lonely.GetStats()))
	require.NoError(t, lonely.Close())
	require.NoError(t, offerer.Close())
	require.NoError(t, answerer.Close())
}

func TestLoopbackServerURLsUseLoopback(t *testing.T) {
	for url, want := range map[string]bool{
		"http://127.0.0.1:7880": true, "http://127.0.0.13:7880": true, "http://localhost:7880": true, "http://[::1]:7880": true,
		"https://voice.example.com": false, "http://10.0.0.5:7880": false, "::bad": false, "": false,
	} {
		require.Equal(t, want, onLoopback(url), url)
	}
}
