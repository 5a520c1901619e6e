package e2e

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// httpPort is the port of the server's HTTP (and signalling) address.
func httpPort(t *testing.T, s *server) int {
	t.Helper()
	u, err := url.Parse(s.base)
	require.NoError(t, err)
	p, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return p
}

// TestBrowserSignallingCutResumes: both pages' WebSockets are cut mid-call (ss -K) and new ones refused for
// 1.5 s. Audio never stops meanwhile; each page resumes its session (same
// peer id, one resume, no rejoin), and messages made while the sockets were
// down are not lost either way: alice's mute (client to server, replayed
// after resumed) and an admin's mute of bob (server to client, kept for the
// detached sessions) reach both pages.
func TestBrowserSignallingCutResumes(t *testing.T) {
	t.Parallel()
	s, tabs := twoPagesInACall(t, "cut", nil)
	alice, bob := tabs[0], tabs[1]
	before := []pageState{page(t, alice), page(t, bob)}
	for _, p := range before {
		require.NotZero(t, p.SeqIn, "the server numbers its messages (seq): %+v", p)
	}

	f := newNetFault(t)
	f.cutTCP(httpPort(t, s))
	cut := time.Now()
	_, err := chromedp.Run(alice, chromedp.Poll[bool](`window.voicectl.reconnecting`, chromedp.WithPollingTimeout(time.Second)))
	require.NoError(t, err, "alice saw her socket go")

	// Media goes on: every tab's packet count grows in each 600 ms (a 300 ms
	// window of getStats went empty once beside the whole suite in CI: a
	// stall of the loaded machine, not of the call).
	last := []audioStats{stats(t, alice), stats(t, bob)}
	for time.Since(cut) < 2400*time.Millisecond {
		time.Sleep(600 * time.Millisecond)
		for i, tab := range tabs {
			now := stats(t, tab)
			require.Greater(t, now.Packets, last[i].Packets, "tab %d: audio stopped with the signalling", i)
			last[i] = now
		}
	}

	// Messages while the sockets are down, one each way: alice mutes (her
	// page keeps the message for the replay after resumed), and an admin
	// mutes bob (the server keeps peer_muted for both detached sessions).
	_, err = chromedp.Run(alice, chromedp.Evaluate[any](`document.getElementById("mic").click()`))
	require.NoError(t, err)
	adminMute(t, s, "cut", before[1].PeerID)
	for _, tab := range tabs {
		require.Equal(t, "reconnecting…", page(t, tab).Status)
	}
	f.clear()
	back := time.Now()

	for i, tab := range tabs {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`window.voicectl.resumes === 1 && !window.voicectl.reconnecting`,
			chromedp.WithPollingTimeout(5*time.Second)))
		require.NoError(t, err, "tab %d did not resume: %+v", i, page(t, tab))
		p := page(t, tab)
		require.Equal(t, before[i].PeerID, p.PeerID, "same peer")
		require.Zero(t, p.Rejoins)
		require.Equal(t, "Connected.", p.Status)
		t.Logf("tab %d: %+v", i, p)
	}
	t.Logf("the pages resumed %s after the network came back", time.Since(back))

	// Both mutes reached both pages: alice's through her replay and the
	// server, bob's through the server's replay.
	for _, tab := range tabs {
		for _, id := range []string{before[0].PeerID, before[1].PeerID} {
			_, err = chromedp.Run(tab, chromedp.Poll[bool](`!!document.querySelector('#peers li.muted[data-peer="`+id+`"]')`,
				chromedp.WithPollingTimeout(3*time.Second)))
			require.NoError(t, err, "a page never learnt that %s muted", id)
		}
	}
}

// adminMute mutes a peer through the admin API, from 127.0.0.2: a client
// that cutTCP's rules (on 127.0.0.1) leave alone.
func adminMute(t *testing.T, s *server, room, peer string) {
	t.Helper()
	key := adminKeyLine.FindStringSubmatch(s.out.String())
	require.NotNil(t, key, "the dev admin key")
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}, Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodPost, s.base+"/admin/v1/rooms/"+room+"/peers/"+peer+"/mute", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key[1])
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}
