package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// opusFmtp finds the Opus payload type's fmtp lines of an SDP.
func opusFmtp(t *testing.T, sdp string) []string {
	t.Helper()
	pt := regexp.MustCompile(`a=rtpmap:(\d+) opus/48000/2`).FindStringSubmatch(sdp)
	require.NotNil(t, pt, "no Opus in %s", sdp)
	return regexp.MustCompile(`(?m)^a=fmtp:`+pt[1]+` [^\r\n]*`).FindAllString(sdp, -1)
}

// TestPageAnswersWithDTX: the page's answers, as the server receives them
// on the WebSocket, ask for Opus DTX (usedtx=1, RFC 7587) on every Opus
// m-line, and the page applied the server's offer with it, which is where
// libwebrtc takes its encoder's settings from. Where the offer has generic
// NACK on Opus the answers keep it, which Chromium's own leave out.
func TestPageAnswersWithDTX(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1")
	browser := newBrowser(t)
	alice := newTab(t, browser, s.base+"/?room=dtx&name=alice")
	var mu sync.Mutex
	var answers []string
	bob, cancel := chromedp.NewContext(browser, chromedp.WithListener(func(ev any) {
		f, ok := ev.(*network.EventWebSocketFrameSent)
		if !ok {
			return
		}
		var msg struct{ Type, SDP string }
		if json.Unmarshal([]byte(f.Response.PayloadData), &msg) == nil && msg.Type == "answer" {
			mu.Lock()
			answers = append(answers, msg.SDP)
			mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(bob, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, network.Enable, network.EnableParams{})
		return err
	}), chromedp.Navigate(s.base+"/?room=dtx&name=bob")))
	hears(t, alice, 1)
	hears(t, bob, 1)

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, answers, "bob's answers on the WebSocket")
	for _, a := range answers {
		lines := opusFmtp(t, a)
		require.NotEmpty(t, lines, a)
		for _, l := range lines {
			require.Contains(t, l, "usedtx=1", "the answer's Opus fmtp")
		}
	}
	offer, err := chromedp.Run(bob, chromedp.Evaluate[string](`window.voicectl.pc.remoteDescription.sdp`))
	require.NoError(t, err)
	if strings.Contains(offer, "a=rtcp-fb:111 nack") {
		// Chromium's own answers leave NACK out on audio; the page keeps it.
		for _, a := range answers {
			require.Contains(t, a, "a=rtcp-fb:111 nack", "the answer keeps the offer's NACK")
		}
	}
	for _, l := range opusFmtp(t, offer) {
		require.Contains(t, l, "usedtx=1", "the offer as applied")
	}
}
