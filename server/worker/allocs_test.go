package worker

import "testing"

// leastAllocsPerRun is the least of up to three testing.AllocsPerRun
// measurements of f. AllocsPerRun counts every goroutine's allocations, and
// beside the path measured the workers' and the test clients' timers
// (consent checks, RTCP reports, ICE) allocate now and then — the more, the
// longer a starved machine takes over the runs (one per run once, beside a
// cold build); what the path itself allocates is in every measurement.
func leastAllocsPerRun(runs int, f func()) float64 {
	least := testing.AllocsPerRun(runs, f)
	for i := 0; i < 2 && least > 0; i++ {
		least = min(least, testing.AllocsPerRun(runs, f))
	}
	return least
}
