package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// decisions runs n packets through a fresh impairer.
func decisions(m Impairment, socket uint64, n int) ([]bool, []time.Duration, *impairer) {
	im := newImpairer(m, socket, dirSend)
	drops, delays := make([]bool, n), make([]time.Duration, n)
	for i := range n {
		drops[i], delays[i], _ = im.next()
	}
	return drops, delays, im
}

func TestImpairerSameSeedSameDecisions(t *testing.T) {
	m := Impairment{Loss: 0.05, BurstLoss: 0.03, Jitter: 20 * time.Millisecond, Reorder: 0.01, Seed: 7}
	d1, j1, _ := decisions(m, 1, 5000)
	d2, j2, _ := decisions(m, 1, 5000)
	require.Equal(t, d1, d2, "same seed, same socket: same drops")
	require.Equal(t, j1, j2, "and same delays")

	m.Seed = 8
	d3, _, _ := decisions(m, 1, 5000)
	require.NotEqual(t, d1, d3, "another seed")
	m.Seed = 7
	d4, _, _ := decisions(m, 2, 5000)
	require.NotEqual(t, d1, d4, "another socket of the same client")
	require.NotEqual(t, d1, func() []bool {
		im := newImpairer(m, 1, dirReceive)
		out := make([]bool, 5000)
		for i := range out {
			out[i], _, _ = im.next()
		}
		return out
	}(), "the other direction")
}

func TestImpairerRandomLossRatio(t *testing.T) {
	for _, p := range []float64{0.01, 0.05, 0.10} {
		const n = 200000
		_, _, im := decisions(Impairment{Loss: p, Seed: 1}, 1, n)
		got := float64(im.dropped) / n
		require.InDelta(t, p, got, 0.1*p, "loss %g: dropped %g", p, got)
		require.Zero(t, im.burstRuns)
	}
}

func TestImpairerBurstsMeanLength(t *testing.T) {
	for _, tc := range []struct{ loss, length float64 }{{0.05, 3}, {0.10, 5}, {0.02, 1.5}} {
		const n = 400000
		drops, _, im := decisions(Impairment{BurstLoss: tc.loss, BurstLength: tc.length, Seed: 3}, 1, n)
		var runs, inRun int
		for i, d := range drops {
			if d {
				inRun++
				if i == 0 || !drops[i-1] {
					runs++
				}
			}
		}
		require.InDelta(t, tc.loss, float64(inRun)/n, 0.1*tc.loss, "mean loss")
		require.InDelta(t, tc.length, float64(inRun)/float64(runs), 0.1*tc.length, "mean burst length")
		require.Equal(t, uint64(inRun), im.burstDropped)
	}
	// Default length: 3.
	drops, _, _ := decisions(Impairment{BurstLoss: 0.05, Seed: 4}, 1, 400000)
	var runs, inRun int
	for i, d := range drops {
		if d {
			inRun++
			if i == 0 || !drops[i-1] {
				runs++
			}
		}
	}
	require.InDelta(t, DefaultBurstLength, float64(inRun)/float64(runs), 0.3)
}

func TestImpairerJitterAndReorder(t *testing.T) {
	const n = 100000
	_, delays, im := decisions(Impairment{Jitter: 20 * time.Millisecond, Reorder: 0.02, Seed: 5}, 1, n)
	var reordered int
	var sum time.Duration
	for _, d := range delays {
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, 20*time.Millisecond+ReorderDelay)
		if d >= ReorderDelay {
			reordered++
			d -= ReorderDelay
		}
		sum += d
	}
	require.InDelta(t, 0.02, float64(reordered)/n, 0.002)
	require.Equal(t, uint64(reordered), im.reordered)
	require.InDelta(t, float64(10*time.Millisecond), float64(sum/n), float64(500*time.Microsecond), "uniform in [0, 20ms]: mean 10 ms")

	// 20 ms Opus frames with a reordered one: the next two overtake it.
	send := func(i int, d time.Duration) time.Duration { return time.Duration(i)*20*time.Millisecond + d }
	require.Greater(t, send(0, ReorderDelay), send(2, 0))
	require.Less(t, send(0, ReorderDelay), send(3, 0))
}

func TestImpairmentValidate(t *testing.T) {
	require.NoError(t, Impairment{Loss: 0.05, BurstLoss: 0.02, BurstLength: 4, Jitter: 20 * time.Millisecond, Reorder: 0.01}.Validate())
	require.ErrorIs(t, Impairment{Loss: 1}.Validate(), ErrImpairment)
	require.ErrorIs(t, Impairment{Reorder: -0.1}.Validate(), ErrImpairment)
	require.ErrorIs(t, Impairment{BurstLoss: 0.1, BurstLength: 0.5}.Validate(), ErrImpairment)
	require.ErrorIs(t, Impairment{Jitter: -time.Millisecond}.Validate(), ErrImpairment)
	require.False(t, (*Impairment)(nil).Active())
	require.False(t, (&Impairment{Seed: 3}).Active())
	require.True(t, (&Impairment{Jitter: time.Millisecond}).Active())
}
