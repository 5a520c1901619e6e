package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/cluster"
)

// sdkOptions are what a test page passes to the client library's
// createRoom; dev asks the single server for a dev token first.
type sdkOptions struct {
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Publish  bool   `json:"publish"`
	Dev      bool   `json:"dev,omitempty"`
}

// sdkJoinJS loads @voicectl/client from the server (the page's bundle),
// joins with createRoom (connect's options with a dev token, or join's
// through a dev API on the same origin) and logs the room's events into
// window.sdk.log as "event identity detail" lines.
const sdkJoinJS = `(async (opts) => {
  const m = await import("/voicectl-client.js");
  if (opts.dev) {
    const q = new URLSearchParams({room: opts.room, identity: opts.identity, publish: opts.publish ? "1" : "0"});
    opts.token = (await (await fetch("/v1/dev/token?" + q)).json()).token;
    opts.url = location.origin;
  }
  const room = m.createRoom(opts);
  const log = [];
  window.sdk = {room, log};
  room.on("participantJoined", (p) => log.push("participantJoined " + p.identity));
  room.on("muteChanged", (p) => log.push("muteChanged " + p.identity + " " + p.muted));
  room.on("connectionQualityChanged", (p, q) => log.push("connectionQualityChanged " + p.identity + " " + q.level));
  room.on("reconnecting", (why) => log.push("reconnecting " + why));
  room.on("reconnected", () => log.push("reconnected"));
  room.on("moved", (to) => log.push("moved " + to.server));
  room.on("disconnected", (r) => log.push("disconnected " + r.code));
  await room.start();
  return room.peerId;
})`

// sdkJoin opens a page of the server that joins nothing by itself and
// joins with the client library there.
func sdkJoin(t *testing.T, browser context.Context, base string, o sdkOptions) (context.Context, string) {
	t.Helper()
	tab := newTab(t, browser, base+"/")
	arg, err := json.Marshal(o)
	require.NoError(t, err)
	id, err := chromedp.Run(tab, chromedp.Evaluate[string](sdkJoinJS+"("+string(arg)+")", chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "PA_"), id)
	return tab, id
}

// sdkState is what a test reads of a page's Room.
type sdkState struct {
	PeerID     string   `json:"peerId"`
	Server     string   `json:"server"`
	State      string   `json:"state"`
	Publishing bool     `json:"publishing"`
	HasMic     bool     `json:"hasMic"`
	Resumes    int      `json:"resumes"`
	Rejoins    int      `json:"rejoins"`
	Log        []string `json:"log"`
	Packets    float64  `json:"packets"` // audio packets received, all tracks
	Tracks     int      `json:"tracks"`
	Energy     float64  `json:"energy"`
}

const sdkStateJS = `(async () => {
  const r = window.sdk.room;
  const s = {peerId: r.peerId, server: r.server, state: r.state, publishing: r.publishing, hasMic: !!r.microphone,
    resumes: r.resumes, rejoins: r.rejoins, log: window.sdk.log, packets: 0, tracks: 0, energy: 0};
  if (r.pc) (await r.pc.getStats()).forEach((x) => {
    if (x.type === "inbound-rtp" && x.kind === "audio") {
      s.tracks++;
      s.packets += x.packetsReceived || 0;
      s.energy += x.totalAudioEnergy || 0;
    }
  });
  return s;
})()`

func sdkRead(t *testing.T, tab context.Context) sdkState {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[sdkState](sdkStateJS, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return s
}

// sdkHears waits until the page receives audio with energy on tracks tracks
// and its packet count then grows (the call goes on, not a burst that was).
func sdkHears(t *testing.T, tab context.Context, tracks int) {
	t.Helper()
	var s sdkState
	require.Eventually(t, func() bool {
		s = sdkRead(t, tab)
		return s.Tracks >= tracks && s.Energy > 0 && s.Packets > 20
	}, 15*time.Second, 100*time.Millisecond, "the page hears %d tracks: %+v", tracks, s)
	before := s.Packets
	require.Eventually(t, func() bool { return sdkRead(t, tab).Packets > before+10 }, 5*time.Second, 100*time.Millisecond,
		"audio keeps coming")
}

// sdkLogged waits for a line in the page's event log.
func sdkLogged(t *testing.T, tab context.Context, line string) {
	t.Helper()
	var s sdkState
	require.Eventually(t, func() bool {
		s = sdkRead(t, tab)
		for _, l := range s.Log {
			if l == line {
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "the page logs %q: %+v", line, s.Log)
}

// TestSDKPagesHearEachOtherMuteAndResume: pages built on @voicectl/client
// (connect with a token): alice and bob publish and hear each other, carol
// listens only and hears both; each sees the others' connection quality and
// bob's mute as events; when every signalling socket is cut for a moment,
// alice and bob resume their sessions (reconnecting, then reconnected, same
// peer, no rejoin) and the call goes on. The pages load the library from the
// server (the page's bundle) and drive it directly, not through the page.
func TestSDKPagesHearEachOtherMuteAndResume(t *testing.T) {
	t.Parallel()
	s := startServeEnv(t, faultEnv(), "--workers", "1")
	browser := newBrowser(t)
	alice, aliceID := sdkJoin(t, browser, s.base, sdkOptions{Room: "sdk", Identity: "alice", Publish: true, Dev: true})
	bob, bobID := sdkJoin(t, browser, s.base, sdkOptions{Room: "sdk", Identity: "bob", Publish: true, Dev: true})
	carol, _ := sdkJoin(t, browser, s.base, sdkOptions{Room: "sdk", Identity: "carol", Publish: false, Dev: true})

	sdkHears(t, alice, 1)
	sdkHears(t, bob, 1)
	sdkHears(t, carol, 2)
	c := sdkRead(t, carol)
	require.False(t, c.Publishing, "carol listens only")
	require.False(t, c.HasMic, "carol opened no microphone")
	sdkLogged(t, carol, "participantJoined bob")

	// Quality: each page hears of the others' (a clean loopback call).
	for _, tab := range []context.Context{alice, carol} {
		sdkLogged(t, tab, "connectionQualityChanged bob excellent")
	}
	sdkLogged(t, bob, "connectionQualityChanged alice excellent")

	// Mute: bob's reaches everyone as an event.
	_, err := chromedp.Run(bob, chromedp.Evaluate[any](`window.sdk.room.setMicrophoneEnabled(false)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	for _, tab := range []context.Context{alice, bob, carol} {
		sdkLogged(t, tab, "muteChanged bob true")
	}

	// Resume: the signalling sockets are cut and refused for a moment.
	f := newNetFault(t)
	f.cutTCP(httpPort(t, s))
	for _, tab := range []context.Context{alice, bob} {
		sdkLogged(t, tab, "reconnecting signalling")
	}
	f.clear()
	for i, tab := range []context.Context{alice, bob} {
		sdkLogged(t, tab, "reconnected")
		st := sdkRead(t, tab)
		require.Equal(t, []string{aliceID, bobID}[i], st.PeerID, "the same peer")
		require.Equal(t, 1, st.Resumes, "%+v", st)
		require.Zero(t, st.Rejoins, "%+v", st)
		require.Equal(t, "connected", st.State)
	}
	sdkHears(t, bob, 1) // bob hears alice; alice hears nothing of muted bob
	sdkHears(t, carol, 2)
}

// TestSDKPagesFollowAMove: pages built on @voicectl/client that join
// through the cluster API (join) follow a room move by themselves: each
// hears of it (moved, with the new server), and they hear each other on the
// new home.
func TestSDKPagesFollowAMove(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	hosts := []*host{startHost(t, br.URL, 0), startHost(t, br.URL, 1)}
	api := startAPIArgs(t, br.URL, t.TempDir(), "--dev")
	byID := identify(t, api, hosts)

	browser := newBrowser(t)
	ann, _ := sdkJoin(t, browser, api.base, sdkOptions{Room: "sdkmv", Identity: "ann", Publish: true})
	bob, _ := sdkJoin(t, browser, api.base, sdkOptions{Room: "sdkmv", Identity: "bob", Publish: true})
	sdkHears(t, ann, 1)
	sdkHears(t, bob, 1)

	var ra service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/sdkmv", nil, &ra))
	from := byID[cluster.ServerID(ra.Server)]
	to := hosts[0]
	if to == from {
		to = hosts[1]
	}
	require.Equal(t, ra.Server, sdkRead(t, ann).Server, "the page knows its server")
	code, body := api.callRaw(t, "POST", "/v1/rooms/sdkmv/move", service.MoveRequest{To: string(to.id)})
	require.Equal(t, http.StatusOK, code, "the move: %s", body)
	for _, tab := range []context.Context{ann, bob} {
		sdkLogged(t, tab, "moved "+string(to.id))
		sdkHears(t, tab, 1)
		st := sdkRead(t, tab)
		require.Equal(t, string(to.id), st.Server)
		require.Equal(t, "connected", st.State)
	}
	require.Eventually(t, func() bool {
		w := from.worker(t)
		return w.Routers == 0 && w.Transports == 0
	}, 10*time.Second, 50*time.Millisecond, "the pages left the old home: %+v", from.worker(t))
}
