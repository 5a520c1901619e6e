package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFinishTakesTheLastGoodStep(t *testing.T) {
	res := CalibrateResult{Steps: []CalibrateStep{
		{LoadUnits: 101, Report: Report{CPUMicrosPerForwarded: 9.5}},
		{LoadUnits: 202, Report: Report{CPUMicrosPerForwarded: 6.5}},
		{LoadUnits: 303, Report: Report{CPUMicrosPerForwarded: 5.5, LossRatio: 0.1}},
	}}
	got := finish(res, CalibrateParams{Margin: 0.2}, 1)
	require.Equal(t, 202, got.CapacityUnits)
	require.Equal(t, 161, got.RecommendedMaxConsume, "202 less 20%")
	require.InDelta(t, 6.5, got.CPUMicrosAtCapacity, 1e-9)

	none := finish(res, CalibrateParams{Margin: 0.2}, -1)
	require.Zero(t, none.CapacityUnits, "no step was good")
	require.Zero(t, none.RecommendedMaxConsume)
	require.Zero(t, none.CPUMicrosAtCapacity)
}

func TestCalibrateLimitsAndSaturatedRemeasures(t *testing.T) {
	p := CalibrateParams{MaxLoss: 0.005, MaxCPU: 0.8, MaxLatencyP99: 50 * time.Millisecond}
	good := Report{LossRatio: 0.001, ServerCPUSeconds: 0.1, DurationSeconds: 1, LatencyMsP99: 0.3}
	require.Empty(t, p.crossed(good))
	slow := good
	slow.LatencyMsP99 = 96.2
	require.Equal(t, "latency p99 96.2 ms > 50ms", p.crossed(slow))
	lossy := good
	lossy.LossRatio = 0.02
	require.Equal(t, "loss 2.00% > 0.50%", p.crossed(lossy))
	hot := good
	hot.ServerCPUSeconds = 0.9
	require.Equal(t, "worker CPU 90% > 80%", p.crossed(hot))
	noLatencyLimit := p
	noLatencyLimit.MaxLatencyP99 = 0
	require.Empty(t, noLatencyLimit.crossed(slow))

	busy := slow
	busy.MachineBusyRatio = 1
	require.True(t, p.remeasure(busy, 0), "a limit crossed on a saturated machine is measured again")
	require.True(t, p.remeasure(busy, 1))
	require.False(t, p.remeasure(busy, 2), "then the last window stands")
	require.False(t, p.remeasure(slow, 0), "a limit crossed on an idle machine is the worker's")
	busyGood := good
	busyGood.MachineBusyRatio = 1
	require.False(t, p.remeasure(busyGood, 0), "nothing crossed")
	gen := busy
	gen.GeneratorBottleneck = true
	require.False(t, p.remeasure(gen, 0), "the generator's own saturation ends the ramp as it did")
}
