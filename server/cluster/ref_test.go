package cluster

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWorkerRefOrderAndText(t *testing.T) {
	a, b, c := LocalWorker("a", 1), LocalWorker("a", 2), LocalWorker("b", 0)
	require.True(t, a.Less(b))
	require.True(t, b.Less(c))
	require.False(t, c.Less(a))
	require.False(t, a.Less(a))
	require.Equal(t, "a/1", a.String())
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{"server":"b","index":0}`, string(raw))
}
