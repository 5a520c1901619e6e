package supervisor

import (
	"context"
	"sync"
	"time"

	"github.com/voicectl/voicectl/internal/procstat"
	"github.com/voicectl/voicectl/server/ipc"
)

// Sample is one measurement of a worker.
type Sample struct {
	At   time.Time
	PID  int
	Load ipc.Load
	// CPU is the process's CPU seconds so far; the rates and CPUPercent
	// are over the time since the sample before (0 for the first).
	CPU        float64
	InRate     float64
	OutRate    float64
	CPUPercent float64
}

// sampler measures every worker once a second, for rates and CPU shares,
// and notices a worker that stopped answering.
type sampler struct {
	mu   sync.Mutex
	last map[int]Sample
	// answered is when each worker (by index, for its pid) last answered.
	answered map[int]Sample
}

// SampleAll measures every ready worker now (heartbeats start from measured
// loads); RunSampler does it once a second.
func (s *Supervisor) SampleAll() {
	for _, sl := range s.slots {
		st := sl.status()
		if !st.Ready {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l, err := sl.client.Load(ctx)
		cancel()
		if err != nil {
			s.checkHung(sl, st)
			continue
		}
		cpu, _ := procstat.CPUSeconds(st.PID)
		now := time.Now()
		cur := Sample{At: now, PID: st.PID, Load: l, CPU: cpu}
		s.sampler.mu.Lock()
		s.sampler.answered[st.Index] = cur
		if prev, ok := s.sampler.last[st.Index]; ok && prev.PID == st.PID {
			if dt := now.Sub(prev.At).Seconds(); dt > 0 {
				cur.InRate = float64(l.PacketsIn-prev.Load.PacketsIn) / dt
				cur.OutRate = float64(l.PacketsOut-prev.Load.PacketsOut) / dt
				cur.CPUPercent = 100 * (cpu - prev.CPU) / dt
			}
		}
		s.sampler.last[st.Index] = cur
		s.sampler.mu.Unlock()
	}
}

// RunSampler samples every worker once a second until stop is closed.
func (s *Supervisor) RunSampler(stop <-chan struct{}) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			s.SampleAll()
		}
	}
}

// LastSample is worker i's latest measurement, if it was measured.
func (s *Supervisor) LastSample(i int) (Sample, bool) {
	s.sampler.mu.Lock()
	defer s.sampler.mu.Unlock()
	smp, ok := s.sampler.last[i]
	return smp, ok
}

// checkHung kills a worker that has answered nothing for worker.hang_timeout
// (stopped, deadlocked, spinning): its peers would hear silence for as long
// as it lasts, while the supervisor's restart tells them to reconnect.
func (s *Supervisor) checkHung(sl *slot, st WorkerStatus) {
	now := time.Now()
	s.sampler.mu.Lock()
	last, ok := s.sampler.answered[st.Index]
	silent := now.Sub(last.At)
	hung := ok && last.PID == st.PID && silent >= s.p.Worker.HangTimeout
	if !ok || last.PID != st.PID || hung {
		// Its clock starts now; a killed one's too, so that it is killed once.
		s.sampler.answered[st.Index] = Sample{At: now, PID: st.PID}
	}
	s.sampler.mu.Unlock()
	if hung {
		s.log.Error("worker not answering; killing it", "worker", st.Index, "pid", st.PID, "silent", silent.Round(time.Millisecond))
		sl.kill(st.PID)
	}
}
