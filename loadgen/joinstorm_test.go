package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGapMeterKeepsTheLongestGapWhileArmed(t *testing.T) {
	var g gapMeter
	t0 := time.Now()
	g.observe(t0.Add(-time.Hour)) // before arming: ignored
	g.arm()
	base := time.Unix(0, g.last.Load())
	for _, ms := range []int{20, 40, 60, 200, 220, 240} {
		g.observe(base.Add(time.Duration(ms) * time.Millisecond))
	}
	require.Equal(t, uint64(6), g.packets.Load())
	got := g.disarm()
	// 60 → 200 ms; the last packet lies in the future, so no open gap at the end.
	require.Equal(t, 140*time.Millisecond, got)
	g.observe(base.Add(time.Hour)) // after disarming: ignored
	require.Equal(t, uint64(6), g.packets.Load())
}

func TestGapMeterCountsAStallStillGoingOnAtTheEnd(t *testing.T) {
	var g gapMeter
	g.arm()
	time.Sleep(30 * time.Millisecond)
	require.GreaterOrEqual(t, g.disarm(), 30*time.Millisecond, "no packet at all is one gap as long as the window")
}

func TestStormScenarioValidate(t *testing.T) {
	sc := DefaultStorm()
	sc.Secret = "0123456789abcdef0123"
	require.NoError(t, sc.Validate())
	bad := sc
	bad.Concurrency = 0
	require.ErrorContains(t, bad.Validate(), "concurrency")
	bad = sc
	bad.Secret = "short"
	require.ErrorContains(t, bad.Validate(), "secret")
}

func TestGapMeterSeparatesThePublishersGapsFromTheTrip(t *testing.T) {
	var g gapMeter
	g.arm()
	t0 := time.Now()
	// The publisher pauses 300 ms (its own gap); each packet takes 2 ms, one 90 ms.
	g.observeSent(t0.UnixNano(), t0.Add(2*time.Millisecond))
	g.observeSent(t0.Add(20*time.Millisecond).UnixNano(), t0.Add(110*time.Millisecond))
	g.observeSent(t0.Add(320*time.Millisecond).UnixNano(), t0.Add(322*time.Millisecond))
	require.Equal(t, int64(300*time.Millisecond), g.sendGap.Load())
	require.Equal(t, int64(90*time.Millisecond), g.longestTrip.Load())
	g.disarm()
	g.observeSent(t0.Add(time.Hour).UnixNano(), t0.Add(2*time.Hour))
	require.Equal(t, int64(300*time.Millisecond), g.sendGap.Load(), "disarmed")
}
