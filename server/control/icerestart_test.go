package control

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// TestAddressChangeRecoversThroughICERestart: a client whose address
// changes mid-call (127.0.0.1 → 127.0.0.2, as Wi-Fi → mobile) asks for an
// ICE restart; its media moves to the new address with the same peer id,
// and audio is back within a second, both ways.
func TestAddressChangeRecoversThroughICERestart(t *testing.T) {
	h := startHarness(t, testConfig(1))
	// A second address on lo, in the test's own namespace only.
	if out, err := exec.Command("ip", "addr", "add", "127.0.0.2/8", "dev", "lo").CombinedOutput(); err != nil && !strings.Contains(string(out), "File exists") {
		t.Skipf("cannot add 127.0.0.2 to lo (%v: %s); run in the test namespace as root", err, out)
	}
	alice := h.connect("r1", "alice", true)
	var local atomic.Pointer[net.IP]
	first := net.ParseIP("127.0.0.1")
	local.Store(&first)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bob, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token("r1", "bob", true, time.Hour), Publish: true, Level: 30,
		LoopbackOnly: true, IPFilter: func(ip net.IP) bool { return ip.Equal(*local.Load()) }})
	require.NoError(t, err)
	t.Cleanup(bob.Close)
	hearsAll(t, []*client.Client{alice, bob}, 25)
	require.True(t, strings.HasPrefix(bob.LocalAddress(), "127.0.0.1:"), bob.LocalAddress())
	bobID := bob.PeerID()

	second := net.ParseIP("127.0.0.2")
	local.Store(&second)
	start := time.Now()
	require.NoError(t, bob.RestartICE())
	// A worker that does not know transport.restart_ice says so at once.
	for wait := time.After(500 * time.Millisecond); ; {
		select {
		case ev := <-bob.Events():
			if e, ok := ev.(*wire.Error); ok {
				if strings.Contains(e.Message, "unknown_method") {
					t.Skipf("the worker does not restart ICE yet: %s", e.Message)
				}
				t.Fatalf("restart_ice refused: %s: %s", e.Code, e.Message)
			}
			continue
		case <-wait:
		}
		break
	}
	require.Eventually(t, func() bool { return strings.HasPrefix(bob.LocalAddress(), "127.0.0.2:") },
		5*time.Second, 10*time.Millisecond, "media never moved to the new address")
	a, b := bob.Received(alice.PeerID()), alice.Received(bobID)
	require.Eventually(t, func() bool { return bob.Received(alice.PeerID()) > a+5 && alice.Received(bobID) > b+5 },
		5*time.Second, 10*time.Millisecond, "no audio after the ICE restart")
	t.Logf("audio back both ways %s after the restart request", time.Since(start).Round(time.Millisecond))
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, bobID, bob.PeerID())
	require.Zero(t, bob.Resumes())
}
