package e2e

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// metricSum adds up every series of the counter or gauge name in a scrape.
func metricSum(t *testing.T, body, name string) float64 {
	t.Helper()
	var sum float64
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		sum += v
	}
	return sum
}

type pairStats struct {
	RequestsReceived  float64 `json:"requestsReceived"`
	ResponsesReceived float64 `json:"responsesReceived"`
	ResponsesSent     float64 `json:"responsesSent"`
	State             string  `json:"state"`
}

// selectedPairJS reads the counts of the candidate pair the page's connection uses.
const selectedPairJS = `(async () => {
  const pc = window.voicectl && window.voicectl.pc;
  const r = {requestsReceived: 0, responsesReceived: 0, responsesSent: 0, state: "none"};
  if (!pc) return r;
  const all = await pc.getStats();
  all.forEach((s) => {
    if (s.type !== "transport" || !s.selectedCandidatePairId) return;
    const p = all.get(s.selectedCandidatePairId);
    if (!p) return;
    r.requestsReceived = p.requestsReceived || 0;
    r.responsesReceived = p.responsesReceived || 0;
    r.responsesSent = p.responsesSent || 0;
    r.state = pc.iceConnectionState;
  });
  return r;
})()`

func selectedPair(t *testing.T, tab context.Context) pairStats {
	p, err := chromedp.Run(tab, chromedp.Evaluate[pairStats](selectedPairJS, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return p
}

// TestBrowserConsentKeptByTheWorker: Chromium's consent checks are answered by
// the worker's sockets and Chromium accepts the answers; the worker's own
// checks (every 5 s) reach Chromium, which answers them, and the worker
// verifies the answers; the page stays connected throughout.
func TestBrowserConsentKeptByTheWorker(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1")
	browser := newBrowser(t)
	tab := newTab(t, browser, s.base+"/?room=consent&name=carol")
	_, err := chromedp.Run(tab, chromedp.Poll[bool](`window.voicectl && window.voicectl.connected`, chromedp.WithPollingTimeout(20*time.Second)))
	require.NoError(t, err)

	counts := func() (answered, confirmed float64) {
		body := scrape(t, s)
		return metricSum(t, body, "voicectl_worker_ice_consent_checks_answered_total"),
			metricSum(t, body, "voicectl_worker_ice_consent_checks_confirmed_total")
	}
	var answered, confirmed float64
	deadline := time.Now().Add(20 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if answered, confirmed = counts(); answered >= 1 && confirmed >= 1 {
			break
		}
	}
	require.GreaterOrEqual(t, answered, 1.0, "the worker answers Chromium's checks")
	require.GreaterOrEqual(t, confirmed, 1.0, "Chromium answers the worker's checks")

	// pion answers a peer's first check and the worker's sockets every one
	// after it, so the answers Chromium counts on its selected pair from
	// here on are the worker's. Chromium counts one answer per check: beside
	// the whole suite it counted 7 of the worker's 9 once (staying
	// connected), so the counts are compared as they grow, not as totals.
	first := selectedPair(t, tab)
	var p pairStats
	var more float64
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		var a float64
		a, confirmed = counts() // before the page's counts: each was answered by then
		more = a - answered
		if p = selectedPair(t, tab); more >= 2 && p.ResponsesReceived >= first.ResponsesReceived+2 {
			break
		}
	}
	require.GreaterOrEqual(t, more, 2.0, "the worker goes on answering Chromium's checks")
	require.GreaterOrEqual(t, p.ResponsesReceived, first.ResponsesReceived+2,
		"Chromium accepts the worker's answers (at the worker's first answer %+v, now %+v)", first, p)
	// The worker's own checks: Chromium answered and counted each it received.
	require.GreaterOrEqual(t, p.ResponsesSent, confirmed, "%+v", p)
	require.GreaterOrEqual(t, p.RequestsReceived, confirmed, "%+v", p)
	require.Equal(t, "connected", p.State)
}
