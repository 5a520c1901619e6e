package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// pageState is what the tests read of a page's window.voicectl.
type pageState struct {
	PeerID       string `json:"peerId"`
	Connected    bool   `json:"connected"`
	ICEState     string `json:"iceState"`
	Reconnecting bool   `json:"reconnecting"`
	Restarts     int    `json:"restarts"`
	Resumes      int    `json:"resumes"`
	Rejoins      int    `json:"rejoins"`
	RejoinReason string `json:"rejoinReason"`
	Duplicates   int    `json:"duplicates"`
	SeqIn        int    `json:"seqIn"`
	SeqOut       int    `json:"seqOut"`
	Status       string `json:"status"`
	Path         *struct {
		Protocol      string `json:"protocol"`
		LocalType     string `json:"localType"`
		RemoteType    string `json:"remoteType"`
		RelayProtocol string `json:"relayProtocol"`
		Remote        string `json:"remote"`
	} `json:"path"`
}

const pageStateJS = `(() => {
  const v = window.voicectl || {};
  return {peerId: v.peerId || "", connected: !!v.connected, iceState: v.iceState || "",
    reconnecting: !!v.reconnecting, restarts: v.restarts || 0, resumes: v.resumes || 0,
    rejoins: v.rejoins || 0, rejoinReason: v.rejoinReason || "", duplicates: v.duplicates || 0, seqIn: v.seqIn || 0, seqOut: v.seqOut || 0,
    status: document.getElementById("status").textContent, path: v.path || null};
})()`

func page(t *testing.T, tab context.Context) pageState {
	t.Helper()
	p, err := chromedp.Run(tab, chromedp.Evaluate[pageState](pageStateJS))
	require.NoError(t, err)
	return p
}

// twoPagesInACall starts a server with env and args and two pages in one
// room that hear each other.
func twoPagesInACall(t *testing.T, room string, env []string, args ...string) (*server, []context.Context) {
	t.Helper()
	s := startServeEnv(t, faultEnv(env...), append([]string{"--workers", "1"}, args...)...)
	browser := newBrowser(t)
	tabs := []context.Context{
		newTab(t, browser, s.base+"/?room="+room+"&name=alice"),
		newTab(t, browser, s.base+"/?room="+room+"&name=bob"),
	}
	for _, tab := range tabs {
		hears(t, tab, 1)
	}
	return s, tabs
}

// audioBack waits until every tab receives fresh audio with energy (20
// packets, 0.4 s of Opus, more than at its call) and returns how long after
// since the last one got it; it fails after limit.
func audioBack(t *testing.T, tabs []context.Context, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	base := make([]audioStats, len(tabs))
	for i, tab := range tabs {
		base[i] = stats(t, tab)
	}
	back := make([]bool, len(tabs))
	for {
		all := true
		for i, tab := range tabs {
			if back[i] {
				continue
			}
			now := stats(t, tab)
			// A rejoin starts the counts over: fresh audio is then any audio.
			if now.Packets < base[i].Packets {
				base[i] = audioStats{}
			}
			back[i] = now.Packets >= base[i].Packets+20 && now.Energy > base[i].Energy
			all = all && back[i]
		}
		took := time.Since(since)
		if all && took <= limit {
			return took
		}
		if took > limit {
			for i, tab := range tabs {
				t.Logf("tab %d: %+v stats %+v", i, page(t, tab), stats(t, tab))
			}
			t.Fatalf("audio not back in every tab within %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserCallSurvivesShortUDPOutage: the server's UDP is dropped for
// 5 s mid-call: audio is back both ways within 4 s of the network coming
// back, on the same peers (no rejoin). Chromium calls the connection
// disconnected only 5 s into an outage, so the pages may not notice this
// one, and do not turn to ICE over TCP either.
func TestBrowserCallSurvivesShortUDPOutage(t *testing.T) {
	t.Parallel()
	udpOutage(t, 5*time.Second, false, nil)
}

// udpOutage drops the server's UDP for outage in a call between two pages
// and checks that audio is back both ways within 4 s of the network coming
// back, on the same peers unless rejoinOK (an outage beyond
// rtc.ice_failed_after); a page that saw the outage said "reconnecting…"
// and says "Connected." again.
func udpOutage(t *testing.T, outage time.Duration, rejoinOK bool, env []string) {
	s, tabs := twoPagesInACall(t, fmt.Sprintf("outage%d", int(outage.Seconds())), env)
	before := []pageState{page(t, tabs[0]), page(t, tabs[1])}

	f := newNetFault(t)
	f.dropUDP(s)
	cut := time.Now()
	noticed := make([]time.Duration, len(tabs))
	for time.Since(cut) < outage {
		for i, tab := range tabs {
			if p := page(t, tab); noticed[i] == 0 && p.Reconnecting && p.Status == "reconnecting…" {
				noticed[i] = time.Since(cut)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.clear()
	// 0.1-1.2 s on a quiet machine (the defect was 18-20 s); 8 s leaves
	// room for two cores running the whole suite (2 s ran out at load 15,
	// 4 s once after a 45 s outage, both pages rejoining).
	took := audioBack(t, tabs, time.Now(), 8*time.Second)
	t.Logf("UDP dropped for %s: audio back both ways %s after the network; the pages said reconnecting… %v into it", outage, took, noticed)
	// Chromium says disconnected once its checks on the pair go unanswered
	// for 5 s (then the page asks for an ICE restart 2 s later).
	for i := range tabs {
		require.True(t, outage < 7*time.Second || noticed[i] > 0, "page %d did not notice the outage", i)
	}

	for i, tab := range tabs {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("status").textContent === "Connected."`,
			chromedp.WithPollingTimeout(2*time.Second)))
		require.NoError(t, err, "status back to Connected.: %+v", page(t, tab))
		p := page(t, tab)
		if !rejoinOK {
			require.Equal(t, before[i].PeerID, p.PeerID, "same peer: no rejoin")
			require.Zero(t, p.Rejoins)
		}
		require.False(t, p.Reconnecting)
		t.Logf("tab %d after: restarts %d, resumes %d, rejoins %d, path %+v", i, p.Restarts, p.Resumes, p.Rejoins, p.Path)
	}
}
