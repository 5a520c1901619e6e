package roomhost

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

// TestALapsedLeaseFencesTheClaimedRooms: no join while the lease lapsed,
// with the code that sends the client back to the API; the claim is kept.
func TestALapsedLeaseFencesTheClaimedRooms(t *testing.T) {
	h := New(Params{RequireClaim: true})
	var held atomic.Bool
	held.Store(true)
	h.SetLease(held.Load)
	h.Claim("standup")
	require.True(t, h.Owns("standup"))
	held.Store(false)
	require.False(t, h.Owns("standup"))
	_, err := h.openRoom("standup")
	require.ErrorIs(t, err, ErrFenced)
	require.Equal(t, wire.CodeWrongServer, wire.CodeOf(err))
	require.Equal(t, []string{"standup"}, h.Claimed(), "the claim is kept")
	held.Store(true)
	require.True(t, h.Owns("standup"))
	_, err = h.openRoom("standup")
	require.NoError(t, err)
}
