package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// SoakSample is one reading of the server's processes (a CSV row).
type SoakSample struct {
	Seconds float64
	Peers   int64
	// The control process.
	ServerRSS        uint64
	ServerGoroutines int
	ServerOpenFiles  int
	ServerHeap       uint64
	ServerAllocsPerS float64
	// The workers, added up.
	WorkersRSS        uint64
	WorkersGoroutines int
	WorkersOpenFiles  int
	WorkersHeap       uint64
	WorkersAllocsPerS float64
	Kills             int
}

// soakColumns are SoakSample's CSV header, in order.
var soakColumns = []string{"seconds", "peers", "server_rss_bytes", "server_goroutines", "server_open_files", "server_heap_bytes", "server_allocs_per_second",
	"workers_rss_bytes", "workers_goroutines", "workers_open_files", "workers_heap_bytes", "workers_allocs_per_second", "kills"}

func (s SoakSample) row() []string {
	return []string{fmt.Sprintf("%.1f", s.Seconds), fmt.Sprint(s.Peers), fmt.Sprint(s.ServerRSS), fmt.Sprint(s.ServerGoroutines),
		fmt.Sprint(s.ServerOpenFiles), fmt.Sprint(s.ServerHeap), fmt.Sprintf("%.0f", s.ServerAllocsPerS), fmt.Sprint(s.WorkersRSS),
		fmt.Sprint(s.WorkersGoroutines), fmt.Sprint(s.WorkersOpenFiles), fmt.Sprint(s.WorkersHeap), fmt.Sprintf("%.0f", s.WorkersAllocsPerS), fmt.Sprint(s.Kills)}
}

// soakFigures are the figures the growth checks judge, by their peaks (a
// leak raises the floor and the peaks with it, a kill only lowers the
// workers' for a moment), with the slack each may grow by beyond MaxGrowth:
// a few MiB the GC keeps, goroutines and descriptors of peers joining at the
// instant of a sample. Allocation rates are sampled and plotted but not
// judged: a worker's restart and its peers' rejoins are a burst of them, and
// what allocations leave behind shows in the live heap.
var soakFigures = []struct {
	name  string
	get   func(SoakSample) float64
	slack float64
}{
	{"server_rss_bytes", func(s SoakSample) float64 { return float64(s.ServerRSS) }, 8 << 20},
	{"server_goroutines", func(s SoakSample) float64 { return float64(s.ServerGoroutines) }, 40},
	{"server_open_files", func(s SoakSample) float64 { return float64(s.ServerOpenFiles) }, 16},
	{"server_heap_bytes", func(s SoakSample) float64 { return float64(s.ServerHeap) }, 4 << 20},
	{"workers_rss_bytes", func(s SoakSample) float64 { return float64(s.WorkersRSS) }, 8 << 20},
	{"workers_goroutines", func(s SoakSample) float64 { return float64(s.WorkersGoroutines) }, 40},
	{"workers_open_files", func(s SoakSample) float64 { return float64(s.WorkersOpenFiles) }, 16},
	{"workers_heap_bytes", func(s SoakSample) float64 { return float64(s.WorkersHeap) }, 4 << 20},
}

// SoakCheck judges one figure: its peak over the soak's last quarter (Final)
// against its peak over the first quarter after the warm-up (Baseline); it
// holds while
// Final <= Bound = Baseline*(1+max_growth)+slack.
type SoakCheck struct {
	Figure   string  `json:"figure"`
	Start    float64 `json:"start"` // the first sample's
	End      float64 `json:"end"`   // the last sample's
	Baseline float64 `json:"baseline"`
	Final    float64 `json:"final"`
	Bound    float64 `json:"bound"`
	OK       bool    `json:"ok"`
}

// growthChecks judges each figure over samples (see SoakCheck).
func growthChecks(samples []SoakSample, sc SoakScenario) []SoakCheck {
	if len(samples) < 4 {
		return nil
	}
	var after []SoakSample
	for _, s := range samples {
		if s.Seconds >= sc.Warmup.Seconds() {
			after = append(after, s)
		}
	}
	if len(after) < 4 {
		after = samples
	}
	q := len(after) / 4
	out := make([]SoakCheck, 0, len(soakFigures))
	for _, f := range soakFigures {
		peak := func(ss []SoakSample) float64 {
			v := make([]float64, len(ss))
			for i, s := range ss {
				v[i] = f.get(s)
			}
			return slices.Max(v)
		}
		c := SoakCheck{Figure: f.name, Start: f.get(samples[0]), End: f.get(samples[len(samples)-1]),
			Baseline: peak(after[:q]), Final: peak(after[len(after)-q:])}
		c.Bound = c.Baseline*(1+sc.MaxGrowth) + f.slack
		c.OK = c.Final <= c.Bound
		out = append(out, c)
	}
	return out
}

// procReading is what one sample read, kept for the next one's rates.
type procReading struct {
	at           time.Time
	serverAllocs uint64
	workerAllocs map[int]uint64 // by pid
}

// sample reads the processes every SampleEvery until ctx ends.
func (k *soak) sample(ctx context.Context) []SoakSample {
	var out []SoakSample
	var prev *procReading
	for {
		s, cur, err := k.read(ctx, prev)
		switch {
		case err == nil:
			out = append(out, s)
			prev = cur
		case ctx.Err() != nil:
			return out
		default:
			k.log.Warn("soak: sample", "err", err)
		}
		if !sleepCtx(ctx, k.sc.SampleEvery) {
			return out
		}
	}
}

func (k *soak) read(ctx context.Context, prev *procReading) (SoakSample, *procReading, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := k.admin.Process(rctx)
	if err != nil {
		return SoakSample{}, nil, err
	}
	ws, err := k.admin.Workers(rctx)
	if err != nil {
		return SoakSample{}, nil, err
	}
	now := time.Now()
	cur := &procReading{at: now, serverAllocs: p.HeapAllocs, workerAllocs: map[int]uint64{}}
	s := SoakSample{Seconds: now.Sub(k.start).Seconds(), Peers: k.peers.Load(),
		ServerRSS: p.RSSBytes, ServerGoroutines: p.Goroutines, ServerOpenFiles: p.OpenFiles, ServerHeap: p.HeapBytes}
	for _, w := range ws {
		s.WorkersRSS += w.RSSBytes
		s.WorkersGoroutines += w.Goroutines
		s.WorkersOpenFiles += w.OpenFiles
		s.WorkersHeap += w.HeapBytes
		cur.workerAllocs[w.PID] = w.HeapAllocs
	}
	k.mu.Lock()
	s.Kills = len(k.rep.Kills)
	k.mu.Unlock()
	if prev != nil {
		dt := now.Sub(prev.at).Seconds()
		s.ServerAllocsPerS = float64(p.HeapAllocs-prev.serverAllocs) / dt
		// A worker restarted since (a new pid) has no rate yet: the
		// workers' rate is the others', scaled to all of them.
		var sum float64
		var n int
		for pid, a := range cur.workerAllocs {
			if b, ok := prev.workerAllocs[pid]; ok && a >= b {
				sum += float64(a-b) / dt
				n++
			}
		}
		if n > 0 {
			s.WorkersAllocsPerS = sum * float64(len(cur.workerAllocs)) / float64(n)
		}
	}
	return s, cur, nil
}
