package control

import (
	"context"
	"sync"
	"time"

	"github.com/voicectl/voicectl/internal/procstat"
	"github.com/voicectl/voicectl/server/ipc"
)

// workerSample is one measurement of a worker.
type workerSample struct {
	at      time.Time
	pid     int
	load    ipc.Load
	cpu     float64
	inRate  float64
	outRate float64
	cpuPct  float64
}

// sampler measures every worker once a second, for rates and CPU shares,
// and notices a worker that stopped answering.
type sampler struct {
	mu   sync.Mutex
	last map[int]workerSample
	// answered is when each worker (by index, for its pid) last answered.
	answered map[int]workerSample
}

func (c *Control) sampleWorkers() {
	for _, s := range c.slots {
		st := s.status()
		if !st.Ready {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l, err := s.client.Load(ctx)
		cancel()
		if err != nil {
			c.checkHung(s, st)
			continue
		}
		cpu, _ := procstat.CPUSeconds(st.PID)
		now := time.Now()
		cur := workerSample{at: now, pid: st.PID, load: l, cpu: cpu}
		c.sampler.mu.Lock()
		c.sampler.answered[st.Index] = cur
		if prev, ok := c.sampler.last[st.Index]; ok && prev.pid == st.PID {
			if dt := now.Sub(prev.at).Seconds(); dt > 0 {
				cur.inRate = float64(l.PacketsIn-prev.load.PacketsIn) / dt
				cur.outRate = float64(l.PacketsOut-prev.load.PacketsOut) / dt
				cur.cpuPct = 100 * (cpu - prev.cpu) / dt
			}
		}
		c.sampler.last[st.Index] = cur
		c.sampler.mu.Unlock()
	}
}

func (c *Control) runSampler(stop <-chan struct{}) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			c.sampleWorkers()
		}
	}
}

func (c *Control) lastSample(index int) (workerSample, bool) {
	c.sampler.mu.Lock()
	defer c.sampler.mu.Unlock()
	s, ok := c.sampler.last[index]
	return s, ok
}

// checkHung kills a worker that has answered nothing for worker.hang_timeout
// (stopped, deadlocked, spinning): its peers would hear silence for as long
// as it lasts, while the supervisor's restart tells them to reconnect.
func (c *Control) checkHung(s *workerSlot, st WorkerStatus) {
	now := time.Now()
	c.sampler.mu.Lock()
	last, ok := c.sampler.answered[st.Index]
	silent := now.Sub(last.at)
	hung := ok && last.pid == st.PID && silent >= c.cfg.Worker.HangTimeout
	if !ok || last.pid != st.PID || hung {
		// Its clock starts now; a killed one's too, so that it is killed once.
		c.sampler.answered[st.Index] = workerSample{at: now, pid: st.PID}
	}
	c.sampler.mu.Unlock()
	if hung {
		c.log.Error("worker not answering; killing it", "worker", st.Index, "pid", st.PID, "silent", silent.Round(time.Millisecond))
		s.kill(st.PID)
	}
}
