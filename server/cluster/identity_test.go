package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerIDIsMadeOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, err := LoadOrCreateServerID(dir)
	require.NoError(t, err)
	require.Regexp(t, validID, string(id))
	again, err := LoadOrCreateServerID(dir)
	require.NoError(t, err)
	require.Equal(t, id, again, "a restarted server keeps its id")
	other, err := LoadOrCreateServerID(t.TempDir())
	require.NoError(t, err)
	require.NotEqual(t, id, other)

	require.NoError(t, os.WriteFile(filepath.Join(dir, idFile), []byte("../../etc\n"), 0o640))
	_, err = LoadOrCreateServerID(dir)
	require.ErrorContains(t, err, "is not a server id")
}
