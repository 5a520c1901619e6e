package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTheLeaseLapsesBeforeDeadAfterAndTheProbeComesBeforeIt: the order the
// one-home protocol rests on, for the defaults, the tests' timings and the
// tightest configuration allowed (dead_after = heartbeat).
func TestTheLeaseLapsesBeforeDeadAfterAndTheProbeComesBeforeIt(t *testing.T) {
	for _, tc := range []struct{ hb, dead, lease, probe time.Duration }{
		{2 * time.Second, 6 * time.Second, 4 * time.Second, 3 * time.Second},
		{300 * time.Millisecond, time.Second, 700 * time.Millisecond, 450 * time.Millisecond},
		{time.Second, time.Second, 666666666 * time.Nanosecond, 499999999 * time.Nanosecond},
	} {
		l, p := Lease(tc.hb, tc.dead), ProbeAfter(tc.hb, tc.dead)
		require.Equal(t, tc.lease, l, "lease for %s/%s", tc.hb, tc.dead)
		require.Equal(t, tc.probe, p, "probe after for %s/%s", tc.hb, tc.dead)
		require.Less(t, l, tc.dead)
		require.Less(t, p, l)
	}
}
