package delivery

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOutboxSurvivesARestartInOrder(t *testing.T) {
	dir := t.TempDir()
	box, recs, err := OpenOutbox(dir, 10)
	require.NoError(t, err)
	require.Empty(t, recs)
	for _, b := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		_, err := box.Append([]byte(b))
		require.NoError(t, err)
	}
	require.NoError(t, box.Remove(1))
	// A write the process never finished is not an event.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000009.json.tmp"), []byte("{"), 0o600))

	box, recs, err = OpenOutbox(dir, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, `{"n":2}`, string(recs[0].Body))
	require.Equal(t, `{"n":3}`, string(recs[1].Body))
	require.Equal(t, 2, box.Len())
	seq, err := box.Append([]byte(`{"n":4}`))
	require.NoError(t, err)
	require.Equal(t, uint64(4), seq, "numbers go on from the newest left, so order holds across restarts")
	_, err = os.Stat(filepath.Join(dir, "00000000000000000009.json.tmp"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestOutboxIsBoundedAndKeepsFailedOnes(t *testing.T) {
	dir := t.TempDir()
	box, _, err := OpenOutbox(dir, 2)
	require.NoError(t, err)
	_, err = box.Append([]byte(`{"n":1}`))
	require.NoError(t, err)
	_, err = box.Append([]byte(`{"n":2}`))
	require.NoError(t, err)
	_, err = box.Append([]byte(`{"n":3}`))
	require.ErrorIs(t, err, ErrQueueFull)
	require.NoError(t, box.Fail(1))
	require.Equal(t, 1, box.Len())
	_, err = box.Append([]byte(`{"n":3}`))
	require.NoError(t, err, "room again once one left")
	failed, err := os.ReadFile(filepath.Join(dir, "failed", "00000000000000000001.json"))
	require.NoError(t, err)
	require.Equal(t, `{"n":1}`, string(failed))
	_, recs, err := OpenOutbox(dir, 2)
	require.NoError(t, err)
	require.Len(t, recs, 2, "failed/ is not sent again")
}
