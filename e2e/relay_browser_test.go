package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// remoteAddrJS is the address of the server candidate on the page's
// selected ICE pair: where its media goes.
const remoteAddrJS = `(async () => {
  const pc = window.voicectl && window.voicectl.pc;
  if (!pc) return "";
  const all = await pc.getStats();
  let out = "";
  all.forEach((s) => {
    if (s.type !== "transport" || !s.selectedCandidatePairId) return;
    const p = all.get(s.selectedCandidatePairId);
    const c = p && all.get(p.remoteCandidateId);
    if (c) out = (c.address || c.ip) + ":" + c.port;
  });
  return out;
})()`

// TestRelayBrowserPagesOnTwoHostsHearEachOther: the room's owner has room
// for one page; the second page's media lands on a relay host (its ICE
// candidate is the relay's address), its signalling stays with the owner,
// and the two hear each other through an SRTP pipe between the hosts.
func TestRelayBrowserPagesOnTwoHostsHearEachOther(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	// 8 units, half kept free: the owner takes a publishing page and a
	// listener, not a second page.
	hosts := startHosts(t, br.URL, "VOICECTL_WORKER_MAX_CONSUMERS=8", "VOICECTL_WORKER_PIPE_HEADROOM=0.5")
	api := startAPIArgs(t, br.URL, t.TempDir(), "--dev")
	byID := identify(t, api, hosts)

	browser := newBrowser(t)
	a := newTab(t, browser, api.base+"/?room=wide&name=ann")
	_, err := chromedp.Run(a, chromedp.Poll[bool](`window.voicectl && window.voicectl.connected`, chromedp.WithPollingTimeout(20*time.Second)))
	require.NoError(t, err)
	var ra service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/wide", nil, &ra))
	owner := byID[cluster.ServerID(ra.Server)]
	ear, err := joinRelayPeer(t, api, "wide", "ear", false)
	require.NoError(t, err)
	b := newTab(t, browser, api.base+"/?room=wide&name=bob")
	hears(t, a, 1)
	hears(t, b, 1)

	require.Equal(t, string(owner.id), pageServer(t, a))
	require.Equal(t, string(owner.id), pageServer(t, b), "both pages signal with the owner")
	// The listener on the owner hears both pages, as their peers are now: a
	// page starved beside the whole suite once rejoined (a new peer id) 5 s
	// after its join, as the client library does when its connection drops.
	var d wire.AdminRoomDetail
	require.Eventually(t, func() bool {
		d = wire.AdminRoomDetail{}
		owner.admin(t, "/admin/v1/rooms/wide", &d)
		heard := ear.c.ReceivedFrom()
		pages := 0
		for _, p := range d.PeerList {
			if (p.Identity == "ann" || p.Identity == "bob") && heard[p.ID] > 0 {
				pages++
			}
		}
		return len(d.PeerList) == 3 && pages == 2
	}, 10*time.Second, 50*time.Millisecond, "a listener on the owner hears both pages: %v from %+v", ear.c.ReceivedFrom(), d.PeerList)
	var relayID string
	for _, p := range d.PeerList {
		if p.Identity == "bob" {
			relayID = p.Server
		}
	}
	relay := byID[cluster.ServerID(relayID)]
	require.NotNil(t, relay, "bob's media is on a relay: %+v", d.PeerList)
	addrA, err := chromedp.Run(a, chromedp.Evaluate[string](remoteAddrJS, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	addrB, err := chromedp.Run(b, chromedp.Evaluate[string](remoteAddrJS, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Regexp(t, "^"+owner.ip+":", addrA, "ann's media goes to the owner's address")
	require.Regexp(t, "^"+relay.ip+":", addrB, "bob's media goes to the relay's own address")
	require.Len(t, d.PipeList, 1)
	require.True(t, d.PipeList[0].SRTP)
}
