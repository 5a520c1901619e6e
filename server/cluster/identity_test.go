package cluster

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
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

// A full disk: the id is not made, the error says why, and no half-written
// file is left for the next start to trip over.
func TestServerIDOnAFullDisk(t *testing.T) {
	dir := testenv.FullDisk(t)
	_, err := LoadOrCreateServerID(dir)
	require.ErrorIs(t, err, syscall.ENOSPC)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "only the filler: no server-id, no server-id.tmp")
}
