package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserJoinPaths: two pages behind each kind of firewall connect and
// hear each other, over the path it leaves them; the join times (the
// page's join to its media connected) go to the log for the note.
//   - udp: an open network.
//   - tcp (the worker's ICE over TCP): all UDP dropped.
//   - turn-tls (the embedded TURN server): everything to the server's
//     media and TURN ports dropped but TCP to its TURN/TLS port.
func TestBrowserJoinPathUDP(t *testing.T) {
	t.Parallel()
	browserJoinPath(t, "udp", false, nil, func(t *testing.T, p pageState) {
		require.Equal(t, "udp", p.Path.Protocol)
		require.Equal(t, "host", p.Path.LocalType)
	})
}

func TestBrowserJoinPathTCP(t *testing.T) {
	t.Parallel()
	browserJoinPath(t, "tcp", false, func(f *netFault, s *server, _ turnPorts) { f.dropUDP(s) }, func(t *testing.T, p pageState) {
		require.Equal(t, "tcp", p.Path.Protocol)
		require.Equal(t, "host", p.Path.RemoteType)
	})
}

func TestBrowserJoinPathTURNTLS(t *testing.T) {
	t.Parallel()
	browserJoinPath(t, "turn-tls", true, func(f *netFault, s *server, tp turnPorts) { f.onlyTCPTo(s, tp.tls) }, func(t *testing.T, p pageState) {
		require.Equal(t, "relay", p.Path.LocalType)
		require.Equal(t, "tls", p.Path.RelayProtocol)
	})
}

// browserJoinPath joins two pages to a server (with TURN where turn) under
// fault and checks each page's selected path. The paths are top-level
// tests, not subtests: go test queues a parallel subtest behind every
// top-level test still waiting, so subtests ran last and made the suite's
// tail.
func browserJoinPath(t *testing.T, name string, turn bool, fault func(f *netFault, s *server, tp turnPorts), check func(t *testing.T, p pageState)) {
	rtcPort := rtcPorts(t)
	tp := turnPortsAt(rtcPort)
	var env []string
	var opts []chromedp.ExecAllocatorOption
	if turn {
		env = turnEnv(t, tp)
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	s := startServeAt(t, rtcPort, faultEnv(env...), "--workers", "1")
	if fault != nil {
		fault(newNetFault(t), s, tp)
	}
	browser := newBrowser(t, opts...)
	tabs := []context.Context{
		newTab(t, browser, s.base+"/?room=path-"+name+"&name=alice"),
		newTab(t, browser, s.base+"/?room=path-"+name+"&name=bob"),
	}
	for i, tab := range tabs {
		hears(t, tab, 1)
		var p pageState
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`!!window.voicectl.path`, chromedp.WithPollingTimeout(3*time.Second)))
		require.NoError(t, err, "no selected pair")
		p = page(t, tab)
		check(t, p)
		ms, err := chromedp.Run(tab, chromedp.Evaluate[int](`window.voicectl.connectMs`))
		require.NoError(t, err)
		t.Logf("path %s: page %d joined to media connected in %d ms (%+v)", name, i, ms, *p.Path)
	}
}

// The long outage tests turn ICE over TCP off: with it, the pages would
// carry on over TCP, and the tests are about the UDP path coming back.
var udpOnly = []string{"VOICECTL_RTC_TCP=false"}

// TestBrowserCallSurvives20sUDPOutage: UDP dropped for 20 s, under
// rtc.ice_failed_after (30 s): audio back within 2 s, same peers. (Before
// issue 32's worker, it came back ~5 s after the network, at the worker's
// next consent check; the pages' ICE restarts now bring it back at once.)
func TestBrowserCallSurvives20sUDPOutage(t *testing.T) {
	t.Parallel()
	udpOutage(t, 20*time.Second, false, udpOnly)
}

// TestBrowserCallRecoversAfterLongUDPOutage40s and 90s: outages of 40 s and 90 s against the default bound of 30 s, scaled to the
// bound of 15 s set here to keep the test short (20 s and 45 s: 4/3 and 3
// times the bound). Beyond the bound the server gives the transport up; the
// page recovers (ICE restart or a rejoin) within 2 s of the network coming
// back.
func TestBrowserCallRecoversAfterLongUDPOutage40s(t *testing.T) {
	t.Parallel()
	longUDPOutage(t, 40*time.Second)
}

func TestBrowserCallRecoversAfterLongUDPOutage90s(t *testing.T) {
	t.Parallel()
	longUDPOutage(t, 90*time.Second)
}

// longUDPOutage drops UDP for nominal (against the default bound), scaled
// to the bound set here.
func longUDPOutage(t *testing.T, nominal time.Duration) {
	const bound, dflt = 15 * time.Second, 30 * time.Second
	outage := time.Duration(float64(nominal) * float64(bound) / float64(dflt))
	udpOutage(t, outage, true, append([]string{"VOICECTL_RTC_ICE_FAILED_AFTER=" + bound.String()}, udpOnly...))
}

// TestBrowserJoinWhoseFirstChecksAreLost (the worker's ICE keeps checking
// until rtc.ice_failed_after): every UDP datagram to and from the server is dropped for the
// first 2 s of two pages' joins; both connect within seconds of the drop ending
// and hear each other. ICE over TCP is off here, or the pages would take it.
func TestBrowserJoinWhoseFirstChecksAreLost(t *testing.T) {
	t.Parallel()
	s := startServeEnv(t, faultEnv("VOICECTL_RTC_TCP=false"), "--workers", "1")
	f := newNetFault(t)
	f.dropUDP(s)
	browser := newBrowser(t)
	tabs := []context.Context{
		newTab(t, browser, s.base+"/?room=lost&name=alice"),
		newTab(t, browser, s.base+"/?room=lost&name=bob"),
	}
	for _, tab := range tabs {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`!!window.voicectl.peerId`, chromedp.WithPollingTimeout(5*time.Second)))
		require.NoError(t, err, "joined")
	}
	time.Sleep(2 * time.Second)
	for _, tab := range tabs {
		require.False(t, page(t, tab).Connected, "connected with its UDP dropped")
	}
	f.clear()
	cleared := time.Now()
	var iceUp time.Duration
	for i, tab := range tabs {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`window.voicectl.iceState === "connected" || window.voicectl.iceState === "completed"`,
			chromedp.WithPollingTimeout(5*time.Second), chromedp.WithPollingInterval(10*time.Millisecond)))
		require.NoError(t, err, "page %d: ICE never connected: %+v", i, page(t, tab))
		iceUp = time.Since(cleared)
	}
	for i, tab := range tabs {
		_, err := chromedp.Run(tab, chromedp.Poll[bool](`window.voicectl.connected`, chromedp.WithPollingTimeout(5*time.Second),
			chromedp.WithPollingInterval(10*time.Millisecond)))
		require.NoError(t, err, "page %d never connected: %+v", i, page(t, tab))
	}
	took := time.Since(cleared)
	t.Logf("first 2 s of UDP dropped: both pages' ICE connected %s and media (DTLS too) %s after it stopped", iceUp, took)
	// Seconds, not the join_timeout (31 s) it took before the worker kept
	// checking: under 1 s on a quiet machine, 1.24 s once beside the suite.
	require.Less(t, took, 3*time.Second)
	for _, tab := range tabs {
		hears(t, tab, 1)
	}
}
