package control

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

func TestAdminAPI(t *testing.T) {
	h := startHarness(t, testConfig(2))
	ctx := context.Background()
	a := h.connect("alpha", "alice", true)
	b := h.connect("alpha", "bob", true)
	c := h.connect("beta", "carol", false)
	hearsAll(t, []*client.Client{a, b}, 10)
	api := h.admin()

	ws, err := api.Workers(ctx)
	require.NoError(t, err)
	require.Len(t, ws, 2)
	total := 0
	for _, w := range ws {
		require.True(t, w.Ready)
		require.Positive(t, w.PID)
		require.Equal(t, 1000, w.Capacity)
		total += w.Transports
		require.Equal(t, w.Consumers+w.Producers+w.PipeConsumers, w.Load)
	}
	require.Equal(t, 3, total)

	rooms, err := api.Rooms(ctx)
	require.NoError(t, err)
	require.Len(t, rooms, 2)
	require.Equal(t, "alpha", rooms[0].ID)
	require.Equal(t, 2, rooms[0].Peers)
	require.Equal(t, 2, rooms[0].Publishers)
	require.Equal(t, "beta", rooms[1].ID)

	detail, err := api.Room(ctx, "alpha")
	require.NoError(t, err)
	require.Len(t, detail.PeerList, 2)
	require.Equal(t, "alice", detail.PeerList[0].Identity)
	require.True(t, detail.PeerList[0].Publishing)

	// Mute from the API: the room is told and the audio stops.
	res, err := api.Mute(ctx, "alpha", "alice", true)
	require.NoError(t, err)
	require.True(t, res.OK)
	waitEvent(t, b, func(m *wire.PeerMuted) bool { return m.PeerID == a.PeerID() && m.Muted })
	waitEvent(t, a, func(m *wire.PeerMuted) bool { return m.PeerID == a.PeerID() && m.Muted })

	// Kick by peer id: the peer is told why and disconnected; the others see it leave.
	_, err = api.Kick(ctx, "alpha", b.PeerID())
	require.NoError(t, err)
	e := waitEvent(t, b, func(m *wire.Error) bool { return true })
	require.Equal(t, wire.CodeKicked, e.Code)
	require.True(t, e.Fatal)
	waitEvent(t, a, func(m *wire.PeerLeft) bool { return m.PeerID == b.PeerID() })

	// Close a room: its peers are removed, the room disappears.
	_, err = api.CloseRoom(ctx, "beta")
	require.NoError(t, err)
	e = waitEvent(t, c, func(m *wire.Error) bool { return true })
	require.Equal(t, wire.CodeRoomClosed, e.Code)
	require.Eventually(t, func() bool {
		rooms, err := api.Rooms(ctx)
		return err == nil && len(rooms) == 1
	}, 5*time.Second, 50*time.Millisecond)

	// Errors: unknown room and peer, wrong and missing keys.
	var ae *admin.APIError
	_, err = api.Room(ctx, "nope")
	require.True(t, errors.As(err, &ae))
	require.Equal(t, http.StatusNotFound, ae.Status)
	require.Equal(t, wire.CodeNotFound, ae.Code)
	_, err = api.Kick(ctx, "alpha", "nobody")
	require.True(t, errors.As(err, &ae))
	require.Equal(t, http.StatusNotFound, ae.Status)
	_, err = api.Mute(ctx, "alpha", "nobody", true)
	require.True(t, errors.As(err, &ae))
	require.Equal(t, http.StatusNotFound, ae.Status)
	for _, key := range []string{"", "wrong-key-wrong-key"} {
		bad, err := admin.New(h.url, key)
		require.NoError(t, err)
		_, err = bad.Workers(ctx)
		require.True(t, errors.As(err, &ae))
		require.Equal(t, http.StatusUnauthorized, ae.Status)
		require.Equal(t, wire.CodeUnauthorized, ae.Code)
	}
	resp, err := http.Get(h.url + "/admin/v1/unknown")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "unknown admin paths need the key too")
}
