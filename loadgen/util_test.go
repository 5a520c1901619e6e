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
// bursts look four times cheaper than they were.
func TestThreadCPUIsExactForShortSpans(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu, wall time.Duration
	for range 10 {
		c0, w0 := threadCPU(), time.Now()
		for time.Since(w0) < 2*time.Millisecond {
		}
		c := threadCPU() - c0
		require.Positive(t, c, "every span is counted")
		cpu += c
		wall += time.Since(w0)
	}
	require.Greater(t, cpu, wall/2)
	require.LessOrEqual(t, cpu, wall+time.Millisecond)
}
