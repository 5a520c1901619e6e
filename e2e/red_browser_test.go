package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// noREDAnswerJS makes the page answer without RED (RFC 2198): its answers
// keep Opus alone, as a client without RED would.
const noREDAnswerJS = `(() => {
  const strip = (sdp) => {
    const pts = new Set([...sdp.matchAll(/a=rtpmap:(\d+) red\/48000\/2/g)].map((m) => m[1]));
    return sdp.split("\r\n")
      .filter((l) => ![...pts].some((pt) => l.startsWith("a=rtpmap:" + pt + " ") || l.startsWith("a=fmtp:" + pt + " ") || l.startsWith("a=rtcp-fb:" + pt + " ")))
      .map((l) => l.startsWith("m=audio") ? l.split(" ").filter((x, i) => i < 3 || !pts.has(x)).join(" ") : l)
      .join("\r\n");
  };
  const create = RTCPeerConnection.prototype.createAnswer;
  RTCPeerConnection.prototype.createAnswer = async function (...args) {
    const d = await create.apply(this, args);
    return { type: d.type, sdp: strip(d.sdp) };
  };
})()`

// sizesJS gives the mean payload bytes per packet of the page's audio
// streams: what it sends, and what it receives, smallest first. Chromium's
// stats name the primary codec (Opus) whether or not the packets are RED
// (RFC 2198), so RED shows in the size: each packet carries the frame
// before it too.
const sizesJS = `(async () => {
  const pc = window.voicectl && window.voicectl.pc;
  const r = {outbound: [], inbound: []};
  if (!pc) return r;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "audio" && s.packetsSent > 250) r.outbound.push(s.bytesSent / s.packetsSent);
    if (s.type === "inbound-rtp" && s.kind === "audio" && s.packetsReceived > 250) r.inbound.push(s.bytesReceived / s.packetsReceived);
  });
  r.inbound.sort((a, b) => a - b);
  return r;
})()`

type pageSizes struct {
	Outbound []float64 `json:"outbound"`
	Inbound  []float64 `json:"inbound"`
}

// sizesOf waits until the tab has sent one stream and received inbound for
// 5 s each (250 packets: past the first packets, whose sizes vary most), and
// returns their mean packet sizes.
func sizesOf(t *testing.T, tab context.Context, inbound int) pageSizes {
	t.Helper()
	var p pageSizes
	require.Eventually(t, func() bool {
		var err error
		p, err = chromedp.Run(tab, chromedp.Evaluate[pageSizes](sizesJS, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		return len(p.Outbound) == 1 && len(p.Inbound) == inbound
	}, 20*time.Second, 200*time.Millisecond, "streams of the tab")
	return p
}

// TestBrowsersPublishREDAndAPageWithoutItHearsThem: Chromium answers the
// server's offer (RED first) keeping RED and publishes RED; a page that keeps
// RED receives a RED publisher as RED, and a page whose answers leave RED out
// (a munged SDP) publishes plain Opus and still hears the RED publishers,
// as their primary Opus.
func TestBrowsersPublishREDAndAPageWithoutItHearsThem(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1")
	browser := newBrowser(t)
	alice := newTab(t, browser, s.base+"/?room=red&name=alice")
	bob := newTab(t, browser, s.base+"/?room=red&name=bob")
	carol, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(carol, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: noREDAnswerJS})
		return err
	}), chromedp.Navigate(s.base+"/?room=red&name=carol")))

	for _, tab := range []context.Context{alice, bob, carol} {
		hears(t, tab, 2)
	}
	// The RFC 6464 levels of RED packets are read as of plain ones: all three
	// fake microphones play a tone, so every page marks all three speaking.
	for _, tab := range []context.Context{alice, carol} {
		speaking, err := chromedp.Run(tab, chromedp.Poll[int](`document.querySelectorAll("#peers li.speaking").length === 3 && 3`, chromedp.WithPollingTimeout(10*time.Second)))
		require.NoError(t, err, "speaking indicators")
		require.Equal(t, 3, speaking)
	}
	answer, err := chromedp.Run(carol, chromedp.Evaluate[string](`window.voicectl.pc.localDescription.sdp`))
	require.NoError(t, err)
	require.NotContains(t, answer, "red/48000", "carol's answers leave RED out")
	a, b, c := sizesOf(t, alice, 2), sizesOf(t, bob, 2), sizesOf(t, carol, 2)
	t.Logf("mean payload bytes per packet: alice %+v, bob %+v, carol %+v", a, b, c)
	require.Greater(t, a.Outbound[0], 1.4*c.Outbound[0], "alice publishes RED, carol plain Opus")
	require.Greater(t, b.Inbound[1], 1.4*b.Inbound[0], "bob gets alice's RED as RED, carol's Opus as sent")
	// Carol's two streams against the same two as RED pages receive them
	// (alice's as bob gets it, bob's as alice does): stripped to the primary
	// frames they are about half (0.48 measured), not matched stream by
	// stream since Opus runs at different rates on the two publishers (98 and
	// 145 bytes once); one left as RED would make it 0.70 or more.
	redSum := a.Inbound[1] + b.Inbound[1]
	require.Less(t, c.Inbound[0]+c.Inbound[1], 0.62*redSum, "carol gets the RED publishers' primary frames alone")
	require.Zero(t, metricSum(t, scrape(t, s), "voicectl_worker_red_malformed_total"))
}

// TestREDOffOffersOpusAlone: with rtc.red off the server offers Opus alone,
// so Chromium publishes plain Opus (the sizes logged are the figure to set
// beside TestBrowsersPublishREDAndAPageWithoutItHearsThem's).
func TestREDOffOffersOpusAlone(t *testing.T) {
	t.Parallel()
	s := startServeEnv(t, []string{"VOICECTL_RTC_RED=false"}, "--workers", "1")
	browser := newBrowser(t)
	alice := newTab(t, browser, s.base+"/?room=nored&name=alice")
	bob := newTab(t, browser, s.base+"/?room=nored&name=bob")
	for _, tab := range []context.Context{alice, bob} {
		hears(t, tab, 1)
	}
	offer, err := chromedp.Run(alice, chromedp.Evaluate[string](`window.voicectl.pc.remoteDescription.sdp`))
	require.NoError(t, err)
	require.NotContains(t, offer, "red/48000")
	a, b := sizesOf(t, alice, 1), sizesOf(t, bob, 1)
	t.Logf("mean payload bytes per packet: alice %+v, bob %+v", a, b)
}
