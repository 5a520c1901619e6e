package worker

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestRoundsRunJobsDueTogetherAtOnce: jobs scheduled at scattered times each
// run once, never before they were due, and the jobs of one round run in one
// go — as many timer runs as rounds, not as jobs.
func TestRoundsRunJobsDueTogetherAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := newRounds()
	const n = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	lateness := map[int]time.Duration{}
	rounds := map[int64]bool{}
	wg.Add(n)
	for i := range n {
		d := time.Duration(rand.N(int64(3 * roundInterval)))
		at := time.Now().Add(d)
		j := r.afterFunc(d, func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			lateness[i] = time.Since(at)
		})
		mu.Lock()
		rounds[j.due] = true
		mu.Unlock()
	}
	wg.Wait()
	require.Len(t, lateness, n)
	for i, late := range lateness {
		require.GreaterOrEqual(t, late, time.Duration(0), "job %d ran early", i)
		require.Less(t, late, roundInterval+time.Second, "job %d ran a round and a second late", i)
	}
	require.LessOrEqual(t, len(rounds), 4, "60 jobs over 3 rounds' time")
	require.LessOrEqual(t, int(r.ran.Load()), len(rounds), "one timer run per round")
}

// TestRoundsResetAndStop: a stopped job does not run, even reset, a reset one
// runs at its new time, and a job may reschedule or stop itself from its own run.
func TestRoundsResetAndStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := newRounds()
	var stoppedRan atomic.Bool
	stopped := r.afterFunc(roundInterval, func() { stoppedRan.Store(true) })
	stopped.Stop()
	stopped.Stop()   // twice is harmless
	stopped.Reset(0) // as a run in progress would: stopped is for good

	start := time.Now()
	movedAt := make(chan time.Duration, 1)
	moved := r.afterFunc(roundInterval, func() { movedAt <- time.Since(start) })
	moved.Reset(4 * roundInterval)

	var runs atomic.Int32
	again := make(chan struct{})
	var self *roundJob
	self = r.afterFunc(time.Hour, func() {
		if runs.Add(1) < 3 {
			self.Reset(roundInterval / 2)
			return
		}
		self.Stop()
		close(again)
	})
	self.Reset(0) // now that self is set

	select {
	case <-again:
	case <-time.After(5 * time.Second):
		t.Fatal("a job that reschedules itself stopped running")
	}
	select {
	case d := <-movedAt:
		require.GreaterOrEqual(t, d, 4*roundInterval, "ran at its first time, not the reset one")
	case <-time.After(5 * time.Second):
		t.Fatal("a reset job never ran")
	}
	time.Sleep(roundInterval)
	require.False(t, stoppedRan.Load(), "a stopped job ran")
	require.EqualValues(t, 3, runs.Load())
	r.mu.Lock()
	require.Empty(t, r.jobs, "nothing left scheduled")
	r.mu.Unlock()
}
