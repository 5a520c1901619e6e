package control

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// connectOver joins a listener whose media is held to one transport.
func (h *harness) connectOver(room, identity string, tr client.Transport) *client.Client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token(room, identity, false, time.Hour), LoopbackOnly: true, Transport: tr})
	require.NoError(h.t, err)
	h.t.Cleanup(c.Close)
	return c
}

// peerPaths reads voicectl_server_peer_paths by path, as /metrics serves it.
func peerPaths(h *harness) map[string]float64 {
	h.t.Helper()
	mfs, err := h.c.gatherer.Gather()
	require.NoError(h.t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "voicectl_server_peer_paths" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return out
}

// pathOf is a peer's path and remote address in the admin API.
func pathOf(h *harness, room, peerID string) (string, string) {
	h.t.Helper()
	d, err := h.admin().Room(context.Background(), room)
	require.NoError(h.t, err)
	for _, p := range d.PeerList {
		if p.ID == peerID {
			return p.Path, p.RemoteAddress
		}
	}
	h.t.Fatalf("peer %s not in room %s", peerID, room)
	return "", ""
}

func TestAUDPListenersPathShowsInTheAdminAPIAndMetrics(t *testing.T) {
	cfg := testConfig(1)
	h := startHarness(t, cfg)
	require.Equal(t, 0.0, peerPaths(h)["udp"], "every path is exported before any peer")
	require.Contains(t, peerPaths(h), "turn/tls")
	pub := h.connect("paths", "alice", true)
	l := h.connectOver("paths", "bob", client.TransportUDP)
	require.Eventually(t, func() bool { return l.Received(pub.PeerID()) >= 10 }, 15*time.Second, 20*time.Millisecond)

	require.Eventually(t, func() bool {
		path, _ := pathOf(h, "paths", l.PeerID())
		return path == wire.PathUDP
	}, 5*time.Second, 20*time.Millisecond, "the worker reports the listener's selected pair")
	_, remote := pathOf(h, "paths", l.PeerID())
	require.True(t, strings.HasPrefix(remote, "127.0.0.1:"), remote)
	got := peerPaths(h)
	require.Equal(t, 2.0, got["udp"], "the publisher is on UDP too")
	require.Zero(t, got["none"])
	require.Zero(t, got["tcp"])
}

func TestATCPListenersPathShowsInTheAdminAPIAndMetrics(t *testing.T) {
	cfg := testConfig(1)
	cfg.RTC.TCP = true
	h := startHarness(t, cfg)
	pub := h.connect("paths", "alice", true)
	l := h.connectOver("paths", "bob", client.TransportTCP)
	require.Eventually(t, func() bool { return l.Received(pub.PeerID()) >= 10 }, 15*time.Second, 20*time.Millisecond,
		"the listener hears the publisher over ICE-TCP")

	require.Eventually(t, func() bool {
		path, _ := pathOf(h, "paths", l.PeerID())
		return path == wire.PathTCP
	}, 5*time.Second, 20*time.Millisecond)
	_, remote := pathOf(h, "paths", l.PeerID())
	require.True(t, strings.HasPrefix(remote, "127.0.0.1:"), remote)
	got := peerPaths(h)
	require.Equal(t, [2]float64{1, 1}, [2]float64{got["udp"], got["tcp"]}, "the publisher on UDP, the listener on TCP")
}

// Listeners held to TURN: the worker reports a relay, and the embedded TURN
// server tells which of its transports the client took.
func TestTURNListenersPathsShowTheirTURNTransport(t *testing.T) {
	cfg := turnConfig(t, true)
	cfg.RTC.TCP = true // a relay-only client must not reach the worker's TCP candidates directly
	h := startHarness(t, cfg)
	pub := h.connect("paths", "alice", true)
	ls := map[string]*client.Client{
		wire.PathTURNUDP: h.connectOver("paths", "bob", client.TransportTURNUDP),
		wire.PathTURNTLS: h.connectOver("paths", "carol", client.TransportTURNTLS),
	}
	for want, l := range ls {
		// A relayed join takes a TURN allocation and a relayed ICE check before
		// media: 15 s ran out once beside the whole suite on two cores.
		if !assert.Eventually(t, func() bool { return l.Received(pub.PeerID()) >= 10 }, 30*time.Second, 20*time.Millisecond, want) {
			t.Fatalf("%s: the listener got %d packets; its media: %s; the TURN server: %v", want, l.Received(pub.PeerID()), l.MediaState(), h.turnSeries())
		}
		require.Eventually(t, func() bool {
			path, _ := pathOf(h, "paths", l.PeerID())
			return path == want
		}, 5*time.Second, 20*time.Millisecond, want)
		_, remote := pathOf(h, "paths", l.PeerID())
		require.True(t, strings.HasPrefix(remote, "127.0.0.1:"), "the TURN server's relayed address: %s", remote)
	}
	got := peerPaths(h)
	require.Equal(t, [4]float64{1, 1, 1, 0}, [4]float64{got["udp"], got["turn/udp"], got["turn/tls"], got["turn"]})
}
