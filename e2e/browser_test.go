package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

const chromiumPath = "/usr/lib/chromium/chromium"

// newBrowser gives the test a browser of its own: a browser context (its own
// storage and renderers, closed with the test) in the package's one headless
// Chromium, whose fake microphone plays a tone. Starting a Chromium costs 1.5–2
// CPU-seconds, and the browser tests, most of the suite's CPU, started one
// each. With extra options (flags of the browser process) the test gets a
// Chromium of its own.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	browserSlots <- struct{}{}
	t.Cleanup(func() { <-browserSlots })
	if len(extra) > 0 {
		return ownBrowser(t, extra)
	}
	bctx, cancel := chromedp.NewContext(sharedBrowser.get(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	_, err := chromedp.Run(bctx, chromedp.Navigate("about:blank"))
	require.NoError(t, err)
	return bctx
}

// chromiumFlags are every Chromium's: headless, a fake microphone and no
// permission prompt, loopback candidates allowed, nothing fetched from
// elsewhere. New headless is the whole browser with its window hidden, and
// preloads the omnibox popup's WebUI in a renderer of its own (3 of a
// two-page test's 8 CPU-seconds): the popup's features are off.
func chromiumFlags(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup"),
	}
}

func requireChromium(t *testing.T) {
	t.Helper()
	_, err := os.Stat(chromiumPath)
	require.NoError(t, err, "Chromium is required (make test installs Debian's chromium package)")
}

// ownBrowser starts a Chromium for this test alone, with extra flags.
func ownBrowser(t *testing.T, extra []chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	requireChromium(t)
	bctx, stop, err := startChromium(t.TempDir(), extra...)
	t.Cleanup(stop)
	require.NoError(t, err)
	return bctx
}

// startChromium starts a Chromium with its profile in dir and opens its
// first tab; stop ends it, whether or not the start went through.
func startChromium(dir string, extra ...chromedp.ExecAllocatorOption) (browser context.Context, stop func(), err error) {
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromiumFlags(dir), extra...)...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop = func() {
		cancelBrowser()
		cancelAlloc()
	}
	_, err = chromedp.Run(bctx, chromedp.Navigate("about:blank"))
	return bctx, stop, err
}

// sharedBrowser is the package's Chromium, started by the first test that
// asks and stopped by TestMain. One that has died (a crash) is started
// again for the next test.
var sharedBrowser chromiumProcess

type chromiumProcess struct {
	mu     sync.Mutex
	ctx    context.Context
	stopFn func()
}

func (c *chromiumProcess) get(t *testing.T) context.Context {
	t.Helper()
	requireChromium(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil && c.ctx.Err() == nil {
		return c.ctx
	}
	c.stopLocked()
	dir, err := os.MkdirTemp("", "voicectl-e2e-chromium")
	require.NoError(t, err)
	bctx, stop, err := startChromium(dir)
	if err != nil {
		stop()
		_ = os.RemoveAll(dir)
		require.NoError(t, err, "starting the package's Chromium")
	}
	c.ctx = bctx
	c.stopFn = func() {
		stop()
		_ = os.RemoveAll(dir)
	}
	return bctx
}

func (c *chromiumProcess) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *chromiumProcess) stopLocked() {
	if c.stopFn != nil {
		c.stopFn()
		c.stopFn, c.ctx = nil, nil
	}
}

// browserSlots bounds the browsers (contexts of the shared Chromium or
// Chromiums of their own) in use at once, whatever -parallel lets the other
// tests do: a page in a call costs 0.1–0.2 of a core and the browsers are
// most of the suite's CPU, so more than two of them at once
// starved timing-bound tests on two cores, while tests without one mostly
// wait (heartbeats, drains, broker outages) and can run beside them.
var browserSlots = make(chan struct{}, 2)

// newTab opens url in a new tab of the browser.
func newTab(t *testing.T, browser context.Context, url string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	_, err := chromedp.Run(tab, chromedp.Navigate(url))
	require.NoError(t, err)
	return tab
}

type audioStats struct {
	Packets float64 `json:"packets"`
	Energy  float64 `json:"energy"`
	Tracks  int     `json:"tracks"`
}

const statsJS = `(async () => {
  const pc = window.voicectl && window.voicectl.pc;
  const r = {packets: 0, energy: 0, tracks: 0};
  if (!pc) return r;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      r.tracks++;
      r.packets += s.packetsReceived || 0;
      r.energy += s.totalAudioEnergy || 0;
    }
  });
  return r;
})()`

func stats(t *testing.T, tab context.Context) audioStats {
	s, err := chromedp.Run(tab, chromedp.Evaluate[audioStats](statsJS, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return s
}

// hears waits until the tab receives audio with energy from tracks other peers.
func hears(t *testing.T, tab context.Context, tracks int) audioStats {
	t.Helper()
	var last audioStats
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		last = stats(t, tab)
		if last.Tracks >= tracks && last.Packets > 50 && last.Energy > 0 {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	t.Fatalf("tab hears no audio: %+v (status %q)", last, status)
	return last
}

func TestBrowserTabsHearEachOther(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1")
	browser := newBrowser(t)
	alice := newTab(t, browser, s.base+"/?room=e2e&name=alice")
	bob := newTab(t, browser, s.base+"/?room=e2e&name=bob")
	a := hears(t, alice, 1)
	b := hears(t, bob, 1)
	t.Logf("alice receives %+v, bob receives %+v", a, b)

	// The page lists both peers.
	n, err := chromedp.Run(alice, chromedp.Poll[int](`document.querySelectorAll("#peers li").length === 2 && 2`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// Both fake microphones play a tone: RFC 6464 levels mark both peers speaking.
	for _, tab := range []context.Context{alice, bob} {
		speaking, err := chromedp.Run(tab, chromedp.Poll[int](`document.querySelectorAll("#peers li.speaking").length === 2 && 2`, chromedp.WithPollingTimeout(10*time.Second)))
		require.NoError(t, err, "speaking indicators")
		require.Equal(t, 2, speaking)
	}
	me, err := chromedp.Run(alice, chromedp.Evaluate[string](`document.getElementById("me").textContent`))
	require.NoError(t, err)
	require.Equal(t, "alice", me)

	// Chromium's SRTP, header extensions encrypted or not, is decrypted by the
	// worker's sockets themselves once pion has opened each stream.
	var body string
	require.Eventually(t, func() bool {
		body = scrape(t, s)
		return metricSum(t, body, "voicectl_worker_ingress_rtp_packets_total") > 100
	}, 10*time.Second, 100*time.Millisecond, "the worker's sockets take the tabs' streams")
	require.Zero(t, metricSum(t, body, "voicectl_worker_ingress_rtp_rejected_total"))
	require.Zero(t, metricSum(t, body, "voicectl_worker_ingress_rtp_dropped_total"))

	// Kill the worker: both pages follow the reconnect instruction by themselves.
	before, err := chromedp.Run(alice, chromedp.Evaluate[string](`window.voicectl.peerId`))
	require.NoError(t, err)
	workers := childPIDs(s.cmd.Process.Pid)
	require.Len(t, workers, 1)
	require.NoError(t, syscall.Kill(workers[0], syscall.SIGKILL))
	for _, tab := range []context.Context{alice, bob} {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`window.voicectl.peerId !== `+strconv.Quote(before)+` && window.voicectl.connected`,
			chromedp.WithPollingTimeout(20*time.Second)))
		require.NoError(t, err, "page did not rejoin after the worker restart: %+v", page(t, tab))
		hears(t, tab, 1)
	}
}

func TestBrowserListenerAndBadToken(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1")
	browser := newBrowser(t)
	speaker := newTab(t, browser, s.base+"/?room=aud&name=host")
	listener := newTab(t, browser, s.base+"/?room=aud&name=guest&publish=0")
	hears(t, listener, 1)
	// The listener sends nothing: the speaker receives no audio track.
	require.Never(t, func() bool { return stats(t, speaker).Tracks > 0 }, time.Second, 100*time.Millisecond, "the speaker receives a track from a listener")

	bad := newTab(t, browser, s.base+"/?token=not-a-token")
	msg, err := chromedp.Run(bad, chromedp.Poll[string](`(window.voicectl.error || false)`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err)
	require.Contains(t, msg, "not valid")
}

func TestBrowserPagesAcrossPipe(t *testing.T) {
	t.Parallel()
	// Capacity 3 with 30% headroom: a worker takes new peers up to load 2. The
	// publisher and a listener fill worker 0; the next listener lands on worker 1
	// and hears the publisher through a pipe; one more page is refused.
	s := startServeEnv(t, []string{"VOICECTL_WORKER_MAX_CONSUMERS=3", "VOICECTL_WORKER_PIPE_HEADROOM=0.3"}, "--workers", "2")
	browser := newBrowser(t)
	pub := newTab(t, browser, s.base+"/?room=pipe&name=speaker")
	_, err := chromedp.Run(pub, chromedp.Poll[bool](`window.voicectl.connected`, chromedp.WithPollingTimeout(15*time.Second)))
	require.NoError(t, err)
	near := newTab(t, browser, s.base+"/?room=pipe&name=near&publish=0")
	hears(t, near, 1)
	far := newTab(t, browser, s.base+"/?room=pipe&name=far&publish=0")
	hears(t, far, 1)

	env := []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_ADMIN_KEY=" + adminKeyLine.FindStringSubmatch(s.out.String())[1]}
	out, _, code := cli(t, env, "rooms", "show", "pipe", "-o", "json")
	require.Zero(t, code)
	var room wire.AdminRoomDetail
	require.NoError(t, json.Unmarshal([]byte(out), &room))
	require.Len(t, room.Routers, 2, "the room should span both workers")
	require.Len(t, room.PipeList, 1)
	require.Equal(t, 1, room.PeerList[2].Worker, "the third page is on worker 1")

	full := newTab(t, browser, s.base+"/?room=pipe&name=late&publish=0")
	msg, err := chromedp.Run(full, chromedp.Poll[string](`window.voicectl.error || false`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err)
	require.Contains(t, msg, "no capacity")
	shown, err := chromedp.Run(full, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	require.NoError(t, err)
	require.Contains(t, shown, "The server is full")
}
