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

// TestRoomMoveTakesItsBrowserPagesAlong: two Chromium pages talk in a room
// on A; `voicectl rooms move` sends it to B; the pages follow the move
// instruction by themselves and hear each other on B; A holds nothing of
// the room, the directory says B. Moves the API cannot do are refused with
// a code each.
func TestRoomMoveTakesItsBrowserPagesAlong(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	hosts := []*host{startHost(t, br.URL, 0), startHost(t, br.URL, 1)}
	api := startAPIArgs(t, br.URL, t.TempDir(), "--dev")
	byID := identify(t, api, hosts)

	browser := newBrowser(t)
	a := newTab(t, browser, api.base+"/?room=mv&name=ann")
	b := newTab(t, browser, api.base+"/?room=mv&name=bob")
	hears(t, a, 1)
	hears(t, b, 1)
	var ra service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/mv", nil, &ra))
	from := byID[cluster.ServerID(ra.Server)]
	to := hosts[0]
	if to == from {
		to = hosts[1]
	}
	// A third server joins after the room was placed, too small for it:
	// 2 publishers cost 4 units, 6 with cluster.move_margin; it has 4.
	small := startHost(t, br.URL, 2, "VOICECTL_WORKER_MAX_CONSUMERS=4")
	identify(t, api, append(hosts, small))

	// Refusals first, each with its code; the room stays where it is.
	var he wire.HTTPError
	require.Equal(t, http.StatusNotFound, api.call(t, "POST", "/v1/rooms/nope/move", service.MoveRequest{To: string(to.id)}, &he))
	require.Equal(t, service.CodeRoomUnknown, he.Code)
	require.Equal(t, http.StatusNotFound, api.call(t, "POST", "/v1/rooms/mv/move", service.MoveRequest{To: "no-such-server"}, &he))
	require.Equal(t, service.CodeServerUnknown, he.Code)
	require.Equal(t, http.StatusConflict, api.call(t, "POST", "/v1/rooms/mv/move", service.MoveRequest{To: string(from.id)}, &he))
	require.Equal(t, service.CodeAlreadyThere, he.Code)
	require.Eventually(t, func() bool {
		code := api.call(t, "POST", "/v1/rooms/mv/move", service.MoveRequest{To: string(small.id)}, &he)
		return code == http.StatusServiceUnavailable && he.Code == wire.CodeNoCapacity
	}, 5*time.Second, 100*time.Millisecond, "a move to a server without room for it is refused: %+v", he)
	require.Contains(t, he.Message, "needs 6", "the refusal says what the room needs")
	out, stderr, code := cli(t, nil, "rooms", "move", "mv", "--to", string(small.id), "--api", api.base, "--api-key", clusterAPIKey)
	require.NotZero(t, code, out)
	require.Contains(t, stderr, "no_capacity", "the CLI shows the refusal")
	require.NoError(t, small.cmd.Process.Kill())
	require.Eventually(t, func() bool {
		code := api.call(t, "POST", "/v1/rooms/mv/move", service.MoveRequest{To: string(small.id)}, &he)
		return code == http.StatusConflict && he.Code == service.CodeServerDead
	}, 10*time.Second, 100*time.Millisecond, "a move to a dead server is refused")
	require.Equal(t, from.id, func() cluster.ServerID {
		var now service.RoomAnswer
		api.call(t, "GET", "/v1/rooms/mv", nil, &now)
		return cluster.ServerID(now.Server)
	}())

	// Bob mutes himself before the move; he stays muted after it.
	_, err := chromedp.Run(b, chromedp.Click("#mic"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var d wire.AdminRoomDetail
		from.admin(t, "/admin/v1/rooms/mv", &d)
		for _, p := range d.PeerList {
			if p.Identity == "bob" {
				return p.Muted
			}
		}
		return false
	}, 5*time.Second, 50*time.Millisecond)

	// The move, through the CLI.
	start := time.Now()
	out, stderr, code = cli(t, nil, "rooms", "move", "mv", "--to", string(to.id), "--api", api.base, "--api-key", clusterAPIKey)
	require.Zero(t, code, stderr)
	require.Contains(t, out, string(to.id))
	require.Eventually(t, func() bool { return pageServer(t, a) == string(to.id) && pageServer(t, b) == string(to.id) }, 5*time.Second, 20*time.Millisecond,
		"the pages follow the move")
	hears(t, b, 1) // bob hears ann; bob is muted, so ann hears nothing of him
	took := time.Since(start)
	t.Logf("rooms move to both pages on the new home, bob hearing ann: %s", took)
	// A bound that tells a page that followed the move from one that waited
	// out cluster.move_grace (10 s) or rejoined from scratch; the move's gap is
	// measured in scripts/movegap.sh, not here (3 s was crossed by 25 ms once
	// with the whole suite on two cores).
	require.Less(t, took, 5*time.Second)

	// Identities and the mute came along.
	require.Eventually(t, func() bool {
		var d wire.AdminRoomDetail
		to.admin(t, "/admin/v1/rooms/mv", &d)
		got := map[string]bool{}
		for _, p := range d.PeerList {
			got[p.Identity] = p.Muted
		}
		return len(got) == 2 && got["bob"] && !got["ann"]
	}, 5*time.Second, 50*time.Millisecond, "ann and bob are on the new home, bob muted")

	var after service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/mv", nil, &after))
	require.Equal(t, string(to.id), after.Server, "the directory says the new home")
	require.Equal(t, 1, after.Moves)
	require.Eventually(t, func() bool {
		w := from.worker(t)
		return w.Routers == 0 && w.Transports == 0
	}, 5*time.Second, 50*time.Millisecond, "the old home holds nothing of the room: %+v", from.worker(t))
	var rooms []wire.AdminRoom
	from.admin(t, "/admin/v1/rooms", &rooms)
	require.Empty(t, rooms)
}
