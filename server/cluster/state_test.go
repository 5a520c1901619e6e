package cluster

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStateOf(t *testing.T) {
	require.Equal(t, ServerLive, StateOf(false, false))
	require.Equal(t, ServerDraining, StateOf(false, true))
	require.Equal(t, ServerDead, StateOf(true, false))
	require.Equal(t, ServerDead, StateOf(true, true), "a dead server is dead, drained or not")
	b, err := json.Marshal(struct{ S ServerState }{ServerDraining})
	require.NoError(t, err)
	require.JSONEq(t, `{"S": "draining"}`, string(b), "on the wire it is the plain word")
}
