package loadgencmd

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/loadgen"
)

func round(cpuUs, floorUs, delayP50, delayP99, loss float64) benchRound {
	return benchRound{
		fwd: loadgen.Report{CPUMicrosPerForwarded: cpuUs, ServerForwardDelayMsP50: delayP50, ServerForwardDelayMsP99: delayP99,
			LossRatio: loss, AllocsPerForwarded: cpuUs / 100, LatencyMsP99: 10 * delayP99},
		floor: loadgen.FloorResult{CPUMicrosPerPkt: floorUs},
	}
}

func TestSummaryTakesMediansOfCPUAndTheWorstOfLimits(t *testing.T) {
	s := summarizeRounds([]benchRound{
		round(7.6, 5.3, 1.4, 2.9, 0),
		round(5.4, 5.9, 1.0, 1.4, 0.001),
		round(6.9, 6.0, 1.2, 4.1, 0),
	})
	require.InDelta(t, 6.9, s.cpuUs, 1e-9)
	require.InDelta(t, 5.4, s.cpuUsMin, 1e-9)
	require.InDelta(t, 7.6, s.cpuUsMax, 1e-9)
	require.InDelta(t, 5.9, s.floorUs, 1e-9)
	// Per-round ratios are 1.434, 0.915 and 1.15: the median is the third
	// round's, not the ratio of the medians (6.9 / 5.9 = 1.169).
	require.InDelta(t, 6.9/6.0, s.ratio, 1e-9)
	require.InDelta(t, 1.2, s.delayMsP50, 1e-9)
	require.InDelta(t, 4.1, s.delayMsP99, 1e-9)
	require.InDelta(t, 0.001, s.loss, 1e-12)
	require.InDelta(t, 0.076, s.allocs, 1e-9)
	require.InDelta(t, 41, s.latencyP99, 1e-9)
}

func TestSummaryOfEvenRoundsAveragesTheMiddleTwo(t *testing.T) {
	s := summarizeRounds([]benchRound{round(8, 6, 1, 2, 0), round(6, 5, 1, 2, 0)})
	require.InDelta(t, 7.0, s.cpuUs, 1e-9)
	require.InDelta(t, 5.5, s.floorUs, 1e-9)
	require.InDelta(t, (8.0/6+6.0/5)/2, s.ratio, 1e-9)
}

func TestSummaryIgnoresAFloorThatMeasuredNothing(t *testing.T) {
	s := summarizeRounds([]benchRound{round(7, 0, 1, 2, 0), round(7, 6, 1, 2, 0)})
	require.InDelta(t, 6.0, s.floorUs, 1e-9)
	require.InDelta(t, 7.0/6, s.ratio, 1e-9)
	require.Zero(t, summarizeRounds(nil).cpuUs)
}

func TestSummarySplitsCPUFromTheIdleWindows(t *testing.T) {
	rounds := []benchRound{round(7, 6, 1, 2, 0), round(8, 6, 1, 2, 0), round(9, 6, 1, 2, 0)}
	require.Zero(t, summarizeRounds(rounds).marginalCPUUs, "no idle windows, no split")
	rounds[0].fwd.Idle = &loadgen.IdleReport{MarginalCPUMicrosPerForwarded: 6.1, BackgroundCPUMillisPerSecond: 20, MarginalAllocsPerForwarded: 0.001}
	rounds[1].fwd.Idle = &loadgen.IdleReport{MarginalCPUMicrosPerForwarded: 6.5, BackgroundCPUMillisPerSecond: 18, MarginalAllocsPerForwarded: 0.004}
	rounds[2].fwd.Idle = &loadgen.IdleReport{MarginalCPUMicrosPerForwarded: 5.9, BackgroundCPUMillisPerSecond: 25, MarginalAllocsPerForwarded: -0.002}
	s := summarizeRounds(rounds)
	require.InDelta(t, 6.1, s.marginalCPUUs, 1e-9)
	require.InDelta(t, 20, s.backgroundCPUMs, 1e-9)
	require.InDelta(t, 0.004, s.marginalAllocs, 1e-12)
}
