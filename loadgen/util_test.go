package loadgen

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestThreadCPUIsExactForShortSpans: a 2 ms busy span reads as about 2 ms of the
// thread's CPU. getrusage(RUSAGE_THREAD) fails this: it moves in scheduler ticks
// (4 ms here), so most short spans read as 0 — which once made the floor's
// bursts look four times cheaper than they were. The test packages run side by
// side (beside e2e, on two cores), so the thread may be preempted mid-span: the
// CPU-to-wall comparison gets up to 50 tries of 20 ms, but every span must read
// as more than 0 in all of them.
func TestThreadCPUIsExactForShortSpans(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu, wall time.Duration
	for try := 0; try < 50; try++ {
		cpu, wall = 0, 0
		for range 10 {
			c0, w0 := threadCPU(), time.Now()
			for time.Since(w0) < 2*time.Millisecond {
			}
			c := threadCPU() - c0
			require.Positive(t, c, "every span is counted")
			cpu += c
			wall += time.Since(w0)
		}
		if cpu > wall/2 {
			break
		}
	}
	require.Greater(t, cpu, wall/2, "50 tries, each preempted for half its time")
	require.LessOrEqual(t, cpu, wall+time.Millisecond)
}

// TestWindowBucketsSubtractsTheStart: the run's delay quantiles come from the
// histogram's growth over the window, not from everything since the worker
// started (joins included); a restarted worker (counts going down) gives none.
func TestWindowBucketsSubtractsTheStart(t *testing.T) {
	start := []uint64{0, 0, 5, 0, 0, 0}
	end := []uint64{0, 0, 5, 98, 2, 0}
	w, ok := windowBuckets(start, end)
	require.True(t, ok)
	require.Equal(t, []uint64{0, 0, 0, 98, 2, 0}, w)
	_, ok = windowBuckets(end, start)
	require.False(t, ok, "a count went down")
	_, ok = windowBuckets(start, nil)
	require.False(t, ok)
	require.Equal(t, []uint64{1, 2, 3}, addBuckets([]uint64{1, 2}, []uint64{0, 0, 3}))
}
