package loadgencmd

import (
	"slices"

	"github.com/voicectl/voicectl/loadgen"
)

// benchRound is one forwarding run and the floor measured right after it.
//
// Why rounds: on these shared virtual machines the same binary's CPU per
// forwarded packet moves by ±15% from minute to minute (one session's make
// bench read 5.42, 6.89 and 7.61 µs, with floors of 5.93, 5.93 and 5.31), and
// a floor measured two minutes after the run, behind the calibration ramp, was
// compared with a different machine than the run saw. Alternating run and floor
// puts each pair a few seconds apart, and medians over the rounds keep one
// unlucky minute from deciding the summary.
type benchRound struct {
	fwd   loadgen.Report
	floor loadgen.FloorResult
}

// benchSummary is what make bench's line says about the forwarding rounds. The
// CPU figures are medians, with the spread beside them; the delay, loss,
// latency and allocation figures are the worst round's, since each is a limit
// that every round has to keep.
type benchSummary struct {
	cpuUs, cpuUsMin, cpuUsMax float64
	floorUs, ratio            float64
	delayMsP50, delayMsP99    float64
	allocs, loss, latencyP99  float64
	// From the rounds' idle windows (loadgen.IdleReport), when they had one:
	// medians of the CPU split, the worst round's marginal allocations.
	marginalCPUUs, backgroundCPUMs, marginalAllocs float64
}

func summarizeRounds(rounds []benchRound) benchSummary {
	var cpu, floors, ratios, delay50, marginal, background []float64
	var s benchSummary
	for _, r := range rounds {
		if idle := r.fwd.Idle; idle != nil {
			marginal = append(marginal, idle.MarginalCPUMicrosPerForwarded)
			background = append(background, idle.BackgroundCPUMillisPerSecond)
			s.marginalAllocs = max(s.marginalAllocs, idle.MarginalAllocsPerForwarded)
		}
		cpu = append(cpu, r.fwd.CPUMicrosPerForwarded)
		if r.floor.CPUMicrosPerPkt > 0 { // a floor that measured nothing compares nothing
			floors = append(floors, r.floor.CPUMicrosPerPkt)
			ratios = append(ratios, r.fwd.CPUMicrosPerForwarded/r.floor.CPUMicrosPerPkt)
		}
		delay50 = append(delay50, r.fwd.ServerForwardDelayMsP50)
		s.delayMsP99 = max(s.delayMsP99, r.fwd.ServerForwardDelayMsP99)
		s.allocs = max(s.allocs, r.fwd.AllocsPerForwarded)
		s.loss = max(s.loss, r.fwd.LossRatio)
		s.latencyP99 = max(s.latencyP99, r.fwd.LatencyMsP99)
	}
	if len(cpu) > 0 {
		s.cpuUsMin, s.cpuUsMax = slices.Min(cpu), slices.Max(cpu)
	}
	s.cpuUs, s.floorUs, s.ratio, s.delayMsP50 = median(cpu), median(floors), median(ratios), median(delay50)
	s.marginalCPUUs, s.backgroundCPUMs = median(marginal), median(background)
	return s
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
