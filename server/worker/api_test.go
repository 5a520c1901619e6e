package worker

import (
	"fmt"
	"net"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

func TestNetworkFilters(t *testing.T) {
	all := ipc.InitParams{Loopback: true}
	require.True(t, interfaceFilter(all)("eth0"), "no allow-list admits every interface")
	require.True(t, ipFilter(all)(net.ParseIP("127.0.0.1")))
	require.True(t, ipFilter(all)(net.ParseIP("192.0.2.10")))
	require.False(t, ipFilter(all)(net.ParseIP("2001:db8::1")), "candidates are IPv4")

	only := ipc.InitParams{Interfaces: []string{"lo", "eth1"}, Loopback: false}
	require.True(t, interfaceFilter(only)("eth1"))
	require.False(t, interfaceFilter(only)("eth0"))
	require.False(t, ipFilter(only)(net.ParseIP("127.0.0.1")), "rtc.loopback=false drops loopback")
	require.True(t, ipFilter(only)(net.ParseIP("198.51.100.7")))
}

func TestListenMuxRefusesWhenNothingIsAllowed(t *testing.T) {
	sockets, err := newMediaSockets()
	require.NoError(t, err)
	_, err = listenMux(ipc.InitParams{Port: 0, Interfaces: []string{"no-such-interface"}, Loopback: true}, sockets)
	require.Error(t, err)
	require.Contains(t, err.Error(), "no interface address allowed")
}

// offerCandidates gathers a worker transport's candidates with the given settings.
func offerCandidates(t *testing.T, p ipc.InitParams) string {
	t.Helper()
	sockets, err := newMediaSockets()
	require.NoError(t, err)
	mux, err := listenMux(p, sockets)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mux.Close() })
	api, err := newMediaAPI(p, mux, sockets)
	require.NoError(t, err)
	pc, err := api.forTransport(nil).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return pc.LocalDescription().SDP
}

func TestCandidatesFollowNetworkSettings(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	sdp := offerCandidates(t, ipc.InitParams{Port: 46100, Loopback: true})
	require.Contains(t, sdp, "127.0.0.1 46100 typ host", "one UDP port per worker, on loopback")
	require.NotContains(t, sdp, ".local", "no mDNS candidates unless rtc.mdns")

	sdp = offerCandidates(t, ipc.InitParams{Port: 46101, Loopback: true, AnnouncedIP: "203.0.113.9"})
	require.Contains(t, sdp, "203.0.113.9 46101 typ host", "rtc.announced_ip replaces the host address")
	require.NotContains(t, sdp, "127.0.0.1 46101")
}

// TestClosedPeerConnectionErrorIsRecognised: a consumer removed while its peer
// leaves fails to renegotiate with pion's closed-connection error, which
// dropConsumer must recognise through offerLocked's wrapping (it used to log a
// warning per consumer of every leaving peer).
func TestClosedPeerConnectionErrorIsRecognised(t *testing.T) {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	require.NoError(t, pc.Close())
	_, err = pc.CreateOffer(nil)
	require.Error(t, err)
	require.ErrorIs(t, fmt.Errorf("create offer: %w", err), webrtc.ErrConnectionClosed)
}
