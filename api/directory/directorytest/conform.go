package directorytest

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/cluster"
)

// Conform checks what the API relies on a directory for, on an empty one: a
// room is created once, lists come by name, only a move from the room's
// current home succeeds and is counted, a deleted room is gone, and
// concurrent creates of one room agree on its home.
func Conform(t *testing.T, d directory.Directory) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, d.Check(ctx))
	require.NotEmpty(t, d.Kind())
	r, created, err := d.Create(ctx, "standup", "srv-a")
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "standup", r.Name)
	require.Equal(t, cluster.ServerID("srv-a"), r.Server)
	require.Zero(t, r.Moves)
	require.False(t, r.CreatedAt.IsZero())
	r2, created, err := d.Create(ctx, "standup", "srv-b")
	require.NoError(t, err)
	require.False(t, created, "a room is created once")
	require.Equal(t, r, r2, "a second create returns the entry as it was")
	_, _, err = d.Create(ctx, "retro", "srv-b")
	require.NoError(t, err)

	all, err := d.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, []string{"retro", "standup"}, []string{all[0].Name, all[1].Name})
	onA, err := d.List(ctx, "srv-a")
	require.NoError(t, err)
	require.Equal(t, []directory.Room{r}, onA)
	none, err := d.List(ctx, "srv-z")
	require.NoError(t, err)
	require.NotNil(t, none, "an empty list, not nil (it is answered as JSON)")
	require.Empty(t, none)

	// Failover: only a move from the room's current home succeeds.
	moved, err := d.Move(ctx, "standup", "srv-a", "srv-c")
	require.NoError(t, err)
	require.True(t, moved)
	moved, err = d.Move(ctx, "standup", "srv-a", "srv-b")
	require.NoError(t, err)
	require.False(t, moved, "a second replica's move of the same room loses")
	moved, err = d.Move(ctx, "nowhere", "srv-a", "srv-b")
	require.NoError(t, err)
	require.False(t, moved, "no such room: nothing moved")
	r, err = d.Get(ctx, "standup")
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("srv-c"), r.Server)
	require.Equal(t, 1, r.Moves)
	require.False(t, r.UpdatedAt.Before(r.CreatedAt))

	require.NoError(t, d.Delete(ctx, "retro"))
	require.ErrorIs(t, d.Delete(ctx, "retro"), directory.ErrNotFound)
	_, err = d.Get(ctx, "retro")
	require.ErrorIs(t, err, directory.ErrNotFound)

	// Concurrent creates of one room: one wins, all agree.
	var wg sync.WaitGroup
	homes := make(chan cluster.ServerID, 8)
	wins := make(chan bool, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, created, err := d.Create(ctx, "race", []cluster.ServerID{"x", "y"}[i%2])
			if err != nil {
				t.Error(err)
				return
			}
			homes <- r.Server
			wins <- created
		}()
	}
	wg.Wait()
	close(homes)
	close(wins)
	first := <-homes
	for h := range homes {
		require.Equal(t, first, h)
	}
	n := 0
	for w := range wins {
		if w {
			n++
		}
	}
	require.Equal(t, 1, n, "exactly one create made the room")
}
