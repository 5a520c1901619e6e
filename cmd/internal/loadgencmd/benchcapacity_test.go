package loadgencmd

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/loadgen"
)

func capacityStep(units int, loss, cpuUs float64) loadgen.CalibrateStep {
	return loadgen.CalibrateStep{LoadUnits: units, Report: loadgen.Report{LossRatio: loss, CPUMicrosPerForwarded: cpuUs}}
}

func TestBenchCapacityIsTheHighestStepUnderTheLossLimit(t *testing.T) {
	steps := []loadgen.CalibrateStep{
		capacityStep(404, 0, 7.4),
		capacityStep(808, 0.001, 6.1),
		capacityStep(1212, 0.02, 5.2), // lossy: not a capacity
		capacityStep(1010, 0, 5.9),    // a lower load after a lossy step
	}
	units, cpuUs := benchCapacity(steps, 0.005)
	require.Equal(t, 1010, units)
	require.InDelta(t, 5.9, cpuUs, 1e-9, "the CPU of the step that set the capacity")
}

func TestBenchCapacityWithoutAGoodStep(t *testing.T) {
	units, cpuUs := benchCapacity([]loadgen.CalibrateStep{capacityStep(404, 0.5, 9)}, 0.005)
	require.Zero(t, units)
	require.Zero(t, cpuUs)
	units, cpuUs = benchCapacity(nil, 0.005)
	require.Zero(t, units)
	require.Zero(t, cpuUs)
}
