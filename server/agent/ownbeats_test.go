package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOwnBeatsSayWhenTheOthersSilenceCounts(t *testing.T) {
	t0 := time.Now()
	o := newOwnBeats(300*time.Millisecond, t0)
	up, outage := o.check(t0.Add(500 * time.Millisecond))
	require.True(t, up, "within two heartbeats of the start")
	require.Zero(t, outage)

	o.heard(t0.Add(500 * time.Millisecond))
	up, _ = o.check(t0.Add(1200 * time.Millisecond))
	require.False(t, up, "no own beat back for 700 ms: the broker carries nothing to us")
	up, _ = o.check(t0.Add(3 * time.Second))
	require.False(t, up)

	o.heard(t0.Add(3100 * time.Millisecond))
	up, outage = o.check(t0.Add(3200 * time.Millisecond))
	require.True(t, up)
	require.Equal(t, 2700*time.Millisecond, outage, "from the last beat back before it to now")
	up, outage = o.check(t0.Add(3300 * time.Millisecond))
	require.True(t, up)
	require.Zero(t, outage, "an outage is excused once")
	o.heard(t0.Add(3000 * time.Millisecond))
	up, _ = o.check(t0.Add(3650 * time.Millisecond)) // 550 ms after the last beat back (3.1 s), not 650 after 3.0 s
	require.True(t, up, "a late delivery of an older beat moves nothing back")
	up, _ = o.check(t0.Add(3750 * time.Millisecond))
	require.False(t, up, "650 ms after the last beat back")
}
