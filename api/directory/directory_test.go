package directory

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/pgtest"
	"github.com/voicectl/voicectl/server/cluster"
)

// Both databases pass the same tests.
func backends(t *testing.T) map[string]func(t *testing.T) (url, dir string) {
	return map[string]func(t *testing.T) (string, string){
		"sqlite":   func(t *testing.T) (string, string) { return "", t.TempDir() },
		"postgres": func(t *testing.T) (string, string) { return pgtest.Start(t), "" },
	}
}

func TestDirectory(t *testing.T) {
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			url, dir := backend(t)
			ctx := context.Background()
			d, err := Open(ctx, url, dir)
			require.NoError(t, err)
			require.Equal(t, name, d.Kind())
			v, err := d.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, len(migrations), v)

			r, created, err := d.Create(ctx, "standup", "srv-a")
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, "srv-a", string(r.Server))
			r2, created, err := d.Create(ctx, "standup", "srv-b")
			require.NoError(t, err)
			require.False(t, created, "a room is created once")
			require.Equal(t, "srv-a", string(r2.Server))
			_, _, err = d.Create(ctx, "retro", "srv-b")
			require.NoError(t, err)

			all, err := d.List(ctx, "")
			require.NoError(t, err)
			require.Len(t, all, 2)
			require.Equal(t, "retro", all[0].Name)
			onA, err := d.List(ctx, "srv-a")
			require.NoError(t, err)
			require.Len(t, onA, 1)

			// Failover: only a move from the room's current home succeeds.
			moved, err := d.Move(ctx, "standup", "srv-a", "srv-c")
			require.NoError(t, err)
			require.True(t, moved)
			moved, err = d.Move(ctx, "standup", "srv-a", "srv-b")
			require.NoError(t, err)
			require.False(t, moved, "a second replica's move of the same room loses")
			r, err = d.Get(ctx, "standup")
			require.NoError(t, err)
			require.Equal(t, "srv-c", string(r.Server))
			require.Equal(t, 1, r.Moves)

			require.NoError(t, d.Delete(ctx, "retro"))
			require.ErrorIs(t, d.Delete(ctx, "retro"), ErrNotFound)
			_, err = d.Get(ctx, "retro")
			require.ErrorIs(t, err, ErrNotFound)

			// Concurrent creates of one room: one wins, all agree.
			var wg sync.WaitGroup
			homes := make(chan string, 8)
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, _, err := d.Create(ctx, "race", []cluster.ServerID{"x", "y"}[i%2])
					require.NoError(t, err)
					homes <- string(r.Server)
				}()
			}
			wg.Wait()
			close(homes)
			first := <-homes
			for h := range homes {
				require.Equal(t, first, h)
			}
			require.NoError(t, d.Close())

			// Reopened (an API restart): the entries are intact, migrations not re-run.
			d, err = Open(ctx, url, dir)
			require.NoError(t, err)
			defer d.Close()
			r, err = d.Get(ctx, "standup")
			require.NoError(t, err)
			require.Equal(t, "srv-c", string(r.Server))
		})
	}
}

func TestOpenRefusesOtherURLs(t *testing.T) {
	_, err := Open(context.Background(), "mysql://x", "")
	require.ErrorContains(t, err, "postgres://")
}
