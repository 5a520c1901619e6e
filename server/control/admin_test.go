package control

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
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
		// The process figures the soak samples.
		require.Positive(t, w.Goroutines)
		require.Positive(t, w.RSSBytes)
		require.Positive(t, w.OpenFiles)
		require.Positive(t, w.HeapBytes)
	}
	require.Equal(t, 3, total)
	proc, err := api.Process(ctx)
	require.NoError(t, err)
	require.Equal(t, os.Getpid(), proc.PID, "the control process runs in the test")
	require.Greater(t, proc.Goroutines, 10)
	require.Greater(t, proc.RSSBytes, uint64(1<<20))
	require.Positive(t, proc.OpenFiles)
	require.Positive(t, proc.HeapAllocs)
	require.Positive(t, proc.HeapBytes)

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

// TestWrongAdminKeysAreRateLimited: a real server answers a burst of wrong
// admin keys from one address with 401, then 429 with Retry-After (the key
// is not even compared), counts them, and serves the right key once the
// address's allowance refills.
func TestWrongAdminKeysAreRateLimited(t *testing.T) {
	h := startHarness(t, testConfig(1))
	ctx := context.Background()
	bad, err := admin.New(h.url, "wrong-key-wrong-key")
	require.NoError(t, err)
	codes := map[int]int{}
	start := time.Now()
	for range 40 {
		_, err := bad.Workers(ctx)
		var ae *admin.APIError
		require.True(t, errors.As(err, &ae), "%v", err)
		codes[ae.Status]++
	}
	require.Less(t, time.Since(start), 3*time.Second, "refusals are answered at once, not slowed down")
	refilled := int(time.Since(start).Seconds()*wire.KeyAttemptsPerSecond) + 1
	require.GreaterOrEqual(t, codes[http.StatusUnauthorized], wire.KeyAttemptsBurst, "%v", codes)
	require.LessOrEqual(t, codes[http.StatusUnauthorized], wire.KeyAttemptsBurst+refilled, "a burst (and what refilled meanwhile) of 401s: %v", codes)
	require.Positive(t, codes[http.StatusTooManyRequests])
	_, err = h.admin().Workers(ctx)
	var ae *admin.APIError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, wire.CodeRateLimited, ae.Code, "the address waits, right key or not")
	require.Eventually(t, func() bool { _, err := h.admin().Workers(ctx); return err == nil }, 3*time.Second, 100*time.Millisecond,
		"the right key works once the allowance refills")
	resp, err := http.Get(h.url + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	require.Regexp(t, `(?m)^voicectl_admin_auth_failures_total \d+`, string(body))
	require.NotContains(t, string(body), "voicectl_admin_auth_failures_total 0\n")
}
