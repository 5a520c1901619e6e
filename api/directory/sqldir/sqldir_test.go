package sqldir

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/directory/directorytest"
	"github.com/voicectl/voicectl/internal/pgtest"
	"github.com/voicectl/voicectl/server/cluster"
)

// Both databases pass the same tests.
func backends() map[string]func(t *testing.T) (url, dir string) {
	return map[string]func(t *testing.T) (string, string){
		"sqlite":   func(t *testing.T) (string, string) { return "", t.TempDir() },
		"postgres": func(t *testing.T) (string, string) { return pgtest.Start(t), "" },
	}
}

func TestDirectory(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			url, dir := backend(t)
			ctx := context.Background()
			d, err := Open(ctx, url, dir)
			require.NoError(t, err)
			require.Equal(t, name, d.Kind())
			v, err := d.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, len(migrations), v)

			directorytest.Conform(t, d)
			require.NoError(t, d.Close())

			// Reopened (an API restart): the entries are intact, migrations not re-run.
			d, err = Open(ctx, url, dir)
			require.NoError(t, err)
			defer d.Close()
			r, err := d.Get(ctx, "standup")
			require.NoError(t, err)
			require.Equal(t, cluster.ServerID("srv-c"), r.Server)
			require.Equal(t, 1, r.Moves)
			v, err = d.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, len(migrations), v)
		})
	}
}

func TestOpenRefusesOtherURLs(t *testing.T) {
	_, err := Open(context.Background(), "mysql://x", "")
	require.ErrorContains(t, err, "postgres://")
}
