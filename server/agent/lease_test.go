package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTheLeaseLapsesBeforeTheAPICanDeclareTheServerDead: renewed by a
// heartbeat seen back or a probe, lapsed before dead_after, sends the peers
// away once a re-home could have happened (time the server did not run
// excepted), and after a lapse past dead_after holds the fence one heartbeat
// more.
func TestTheLeaseLapsesBeforeTheAPICanDeclareTheServerDead(t *testing.T) {
	hb, dead, every := 300*time.Millisecond, time.Second, 100*time.Millisecond
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	l := newLease(hb, dead, t0)
	require.Equal(t, 700*time.Millisecond, l.length)
	require.Equal(t, 1800*time.Millisecond, l.sendAwayAfter, "dead_after, the API's probe timeout, a heartbeat")
	require.True(t, l.held(at(600)))
	l.renew(at(400), at(500))
	require.True(t, l.held(at(1100)), "renewed when it came back")
	l.renew(at(0), at(1150))
	require.False(t, l.held(at(1300)), "a heartbeat older than the lease, delivered late, renews nothing")
	for ms := 100; ms <= 2300; ms += 100 {
		require.False(t, l.check(at(ms), every), "at %d ms", ms)
	}
	require.True(t, l.check(at(2400), every), "awake and cut off past a re-home")
	require.False(t, l.check(at(2500), every), "once a lapse")

	l.renew(at(2600), at(2600))
	require.False(t, l.held(at(2700)), "back after dead_after: the fence holds a while")
	require.True(t, l.held(at(2600+300)))

	// Stopped for 3 s: waking, it sends nobody away on its own.
	require.False(t, l.check(at(5600), every))
	require.False(t, l.check(at(5700), every))
	require.False(t, l.held(at(5700)))
}
