package loadgencmd

import "github.com/voicectl/voicectl/loadgen"

// benchCapacity is the highest load of the ramp's steps with loss under
// maxLoss, and the worker's CPU per forwarded packet at that step (0 and 0 when
// no step passed). The bench ramp has no CPU limit and stops where the load
// generator saturates the machine, so the step that stopped it counts too when
// its loss is low.
func benchCapacity(steps []loadgen.CalibrateStep, maxLoss float64) (units int, cpuUs float64) {
	for _, s := range steps {
		if s.Report.LossRatio < maxLoss && s.LoadUnits > units {
			units, cpuUs = s.LoadUnits, s.Report.CPUMicrosPerForwarded
		}
	}
	return units, cpuUs
}
