package rabbittest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A booted node is listed by epmd: the liveness look Start's retry uses
// while a node boots.
func TestABootedNodeIsRegistered(t *testing.T) {
	b := Start(t)
	require.True(t, b.listening())
	require.True(t, b.registered(), "epmd lists %s", b.node)
	never := *b
	never.node = "vt0_0@localhost"
	require.False(t, never.registered(), "a node that never started")
}
