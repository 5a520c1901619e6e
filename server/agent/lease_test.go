package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTheLeaseLapsesBeforeTheAPICanDeclareTheServerDead: renewed by a
// heartbeat seen back or a probe, lapsed before dead_after, sends the peers
// away once past dead_after, and after such a lapse holds the fence for two
// heartbeats more (the API's release of a moved room comes with its first
// heartbeat back).
func TestTheLeaseLapsesBeforeTheAPICanDeclareTheServerDead(t *testing.T) {
	hb, dead := 300*time.Millisecond, time.Second
	t0 := time.Now()
	l := newLease(hb, dead, t0)
	require.Equal(t, 700*time.Millisecond, l.length)
	require.Less(t, l.length, dead)
	require.True(t, l.held(t0.Add(600*time.Millisecond)))
	l.renew(t0.Add(500*time.Millisecond), t0.Add(600*time.Millisecond))
	require.True(t, l.held(t0.Add(1100*time.Millisecond)), "renewed")
	l.renew(t0.Add(100*time.Millisecond), t0.Add(1100*time.Millisecond))
	require.False(t, l.held(t0.Add(1300*time.Millisecond)), "an old heartbeat delivered late renews nothing")
	require.False(t, l.sendAway(t0.Add(1400*time.Millisecond)))
	require.True(t, l.sendAway(t0.Add(1600*time.Millisecond)), "past dead_after")
	require.False(t, l.sendAway(t0.Add(1700*time.Millisecond)), "once a lapse")

	l.renew(t0.Add(1800*time.Millisecond), t0.Add(1800*time.Millisecond))
	require.False(t, l.held(t0.Add(1900*time.Millisecond)), "back after dead_after: the fence holds a while")
	require.True(t, l.held(t0.Add(1800*time.Millisecond+2*hb)))
}
