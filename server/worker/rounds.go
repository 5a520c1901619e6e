package worker

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// roundInterval is how often the worker's periodic per-peer work may run.
const roundInterval = 100 * time.Millisecond

// rounds runs the worker's periodic per-peer work — RTCP sender reports
// (RFC 3550 §6.2), consent checks (RFC 7675 §5.1) — in rounds: a job due at any
// time within a round runs at the round's end, together with the others due
// then, one after another on one timer.
//
// Why: on a timer of its own each job woke the worker, and the Go runtime's
// monitor thread with it, and started a goroutine; with a few hundred peers
// that was a fifth of the worker's wake-ups (perf), and a worker's every
// wake-up costs about as much as forwarding a few packets. In rounds the
// jobs wake it at most 1/roundInterval times a second, however many peers it
// has. Each job keeps its own randomised interval, to within a round.
type rounds struct {
	mu    sync.Mutex
	jobs  jobHeap
	timer *time.Timer   // armed for armed, the earliest round with a job due
	armed int64         // unix nanoseconds, 0 when the timer is not armed
	ran   atomic.Uint64 // rounds run
}

// roundJob is one periodic job: run, due at the end of a round.
type roundJob struct {
	r       *rounds
	run     func()
	due     int64 // unix nanoseconds
	index   int   // in r.jobs, -1 when not scheduled
	stopped bool  // under r.mu: Stop was called, Reset does nothing
}

func newRounds() *rounds {
	r := &rounds{}
	r.timer = time.AfterFunc(time.Hour, r.runDue)
	r.timer.Stop()
	return r
}

// afterFunc schedules f to run once, in the round in which d from now ends;
// the job's Reset schedules it again.
func (r *rounds) afterFunc(d time.Duration, f func()) *roundJob {
	j := r.job(f)
	j.Reset(d)
	return j
}

// job makes a job that runs f once Reset schedules it: for an f that reads
// the job back, the job can be stored before it can run.
func (r *rounds) job(f func()) *roundJob { return &roundJob{r: r, run: f, index: -1} }

// Reset schedules j to run in the round in which d from now ends, instead of
// when it was due.
func (j *roundJob) Reset(d time.Duration) {
	r := j.r
	due := roundEnd(time.Now().Add(d).UnixNano())
	r.mu.Lock()
	defer r.mu.Unlock()
	if j.stopped {
		return
	}
	j.due = due
	if j.index >= 0 {
		heap.Fix(&r.jobs, j.index)
	} else {
		heap.Push(&r.jobs, j)
	}
	r.armLocked()
}

// Stop unschedules j for good: a Reset after it (from a run in progress, which
// Stop does not wait for) does nothing.
func (j *roundJob) Stop() {
	r := j.r
	r.mu.Lock()
	defer r.mu.Unlock()
	j.stopped = true
	if j.index >= 0 {
		heap.Remove(&r.jobs, j.index)
	}
}

// roundEnd is the end of the round that holds t (unix nanoseconds).
func roundEnd(t int64) int64 {
	step := int64(roundInterval)
	return (t + step - 1) / step * step
}

// armLocked points the timer at the earliest due job, if it is not already
// armed as early.
func (r *rounds) armLocked() {
	if len(r.jobs) == 0 {
		return
	}
	next := r.jobs[0].due
	if r.armed != 0 && r.armed <= next {
		return
	}
	r.armed = next
	r.timer.Reset(time.Until(time.Unix(0, next)))
}

// earlyRun is how early a round may run its jobs: the timer waits on the
// monotonic clock, the jobs are due on the wall clock, and a slewed wall clock
// must not leave a round's jobs for a run of their own.
const earlyRun = time.Millisecond

// runDue is the timer's function: every job due by now, in due order.
func (r *rounds) runDue() {
	now := time.Now().Add(earlyRun).UnixNano()
	r.ran.Add(1)
	r.mu.Lock()
	r.armed = 0
	var due []*roundJob
	for len(r.jobs) > 0 && r.jobs[0].due <= now {
		due = append(due, heap.Pop(&r.jobs).(*roundJob))
	}
	r.armLocked()
	r.mu.Unlock()
	for _, j := range due {
		j.run()
	}
}

// jobHeap orders jobs by when they are due (container/heap).
type jobHeap []*roundJob

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, k int) bool { return h[i].due < h[k].due }
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index, h[k].index = i, k
}

func (h *jobHeap) Push(x any) {
	j := x.(*roundJob)
	j.index = len(*h)
	*h = append(*h, j)
}

func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*h = old[:len(old)-1]
	return j
}
