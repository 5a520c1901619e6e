package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
)

// TestTURNURLsOfOtherServers: a server's heartbeat carries its TURN URLs,
// which its owner peers' ice_servers need when it relays their media.
func TestTURNURLsOfOtherServers(t *testing.T) {
	r := newRig(t)
	urls := []string{"turn:127.0.0.2:3478?transport=udp", "turns:relay.example:443?transport=tcp"}
	r.beat(t, "relay", cluster.Heartbeat{Server: "relay", Stress: 0.1, TURN: urls})
	r.beat(t, "plain", cluster.Heartbeat{Server: "plain", Stress: 0.1})
	require.Eventually(t, func() bool { return r.a.Alive("relay") && r.a.Alive("plain") }, time.Second, 5*time.Millisecond)
	require.Equal(t, urls, r.a.TURN("relay"))
	require.Empty(t, r.a.TURN("plain"), "no TURN server there")
	require.Empty(t, r.a.TURN("unknown"))
}
