package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

// TestPagesShowConnectionQuality: two Chromium pages on a clean loopback
// each show both peers excellent (from connection_quality), and
// `voicectl peers -o json` gives the same level with its figures.
func TestPagesShowConnectionQuality(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1")
	key := adminKeyLine.FindStringSubmatch(s.out.String())
	require.NotNil(t, key, s.out.String())
	browser := newBrowser(t)
	alice := newTab(t, browser, s.base+"/?room=quality&name=alice")
	bob := newTab(t, browser, s.base+"/?room=quality&name=bob")
	hears(t, alice, 1)
	hears(t, bob, 1)

	for _, tab := range []context.Context{alice, bob} {
		n, err := chromedp.Run(tab,
			chromedp.Poll[int](`document.querySelectorAll('#peers li[data-quality="excellent"] .quality').length === 2 && 2`,
				chromedp.WithPollingTimeout(20*time.Second)))
		require.NoError(t, err, "both peers excellent on the page")
		require.Equal(t, 2, n)
	}
	label, err := chromedp.Run(alice, chromedp.Evaluate[string](`document.querySelector('#peers li .quality').textContent`))
	require.NoError(t, err)
	require.Regexp(t, `^excellent \d+$`, label)

	// The page shows the microphone: its level (the fake one plays a tone)
	// and the devices to choose from; switching keeps the call going.
	_, err = chromedp.Run(alice, chromedp.Poll[bool](`document.getElementById("mic-level").value > 0 && document.querySelectorAll("#device option").length > 1`,
		chromedp.WithPollingTimeout(5*time.Second)))
	require.NoError(t, err, "the page shows a microphone level and a device choice")
	_, err = chromedp.Run(alice, chromedp.Evaluate[any](`(() => {
  const sel = document.getElementById("device");
  sel.selectedIndex = sel.options.length - 1;
  sel.dispatchEvent(new Event("change"));
})()`))
	require.NoError(t, err)
	_, err = chromedp.Run(alice, chromedp.Poll[bool](`(() => {
  const sel = document.getElementById("device"), mic = window.voicectl.room.microphone;
  return mic.readyState === "live" && mic.getSettings().deviceId === sel.value;
})()`, chromedp.WithPollingTimeout(5*time.Second)))
	require.NoError(t, err, "alice's page switched microphones")
	before := stats(t, bob)
	require.Eventually(t, func() bool {
		now := stats(t, bob)
		return now.Packets > before.Packets+20 && now.Energy > before.Energy
	}, 5*time.Second, 100*time.Millisecond, "bob hears alice on her new microphone")

	env := []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_ADMIN_KEY=" + key[1], "PATH=/usr/bin:/bin"}
	var peers []wire.AdminPeer
	require.Eventually(t, func() bool {
		out, _, code := cli(t, env, "peers", "quality", "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &peers) != nil || len(peers) != 2 {
			return false
		}
		for _, p := range peers {
			if p.Quality != wire.QualityExcellent {
				return false
			}
		}
		return true
	}, 20*time.Second, 500*time.Millisecond, "voicectl peers -o json: %+v", peers)
	for _, p := range peers {
		require.GreaterOrEqual(t, p.Score, 89, "%+v", p)
		require.Less(t, p.Loss, 0.02, "%+v", p)
	}
}
