package loadgen

import (
	"testing"

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
