package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/internal/rabbittest"
)

func pageServer(t *testing.T, tab context.Context) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`(window.voicectl && window.voicectl.peerId ? window.voicectl.server : "")`))
	require.NoError(t, err)
	return s
}

// TestClusterBrowserPagesRejoinAfterTheirServerDies: two headless Chromium
// pages served by the API talk in a room on server A; A is SIGKILLed; both
// pages rejoin by themselves through the API on the room's new home and hear
// each other again.
func TestClusterBrowserPagesRejoinAfterTheirServerDies(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	byURL := map[string]*server{}
	for _, ip := range []string{"127.0.0.11", "127.0.0.12"} {
		s := startServeEnv(t, clusterEnv(fastFailover), "--http-addr", ip+":0", "--workers", "1", "--amqp-url", br.URL)
		byURL[s.base] = s
	}
	api := startAPIWith(t, br.URL, t.TempDir(), []string{fastFailover}, "--dev")
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 2 }, 15*time.Second, 50*time.Millisecond)

	browser := newBrowser(t)
	a := newTab(t, browser, api.base+"/?room=failover&name=ann")
	b := newTab(t, browser, api.base+"/?room=failover&name=bob")
	hears(t, a, 1)
	hears(t, b, 1)
	var ra service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/failover", nil, &ra))
	home := byURL[ra.SignalURL]
	require.NotNil(t, home, "room on %s", ra.SignalURL)
	require.Equal(t, string(ra.Server), pageServer(t, a))

	killed := time.Now()
	require.NoError(t, home.cmd.Process.Kill())
	for _, tab := range []context.Context{a, b} {
		require.Eventually(t, func() bool {
			s := pageServer(t, tab)
			return s != "" && s != string(ra.Server)
		}, 15*time.Second, 50*time.Millisecond, "the page did not rejoin on another server")
	}
	hears(t, a, 1)
	hears(t, b, 1)
	took := time.Since(killed)
	t.Logf("SIGKILL of the room's server to both pages hearing each other again: %s", took)
	require.Less(t, took, 10*time.Second)
	var after service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/failover", nil, &after))
	require.Equal(t, pageServer(t, a), string(after.Server), "the directory says the new home")
}
