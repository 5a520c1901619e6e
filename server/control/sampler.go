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

// sampler measures every worker once a second, for rates and CPU shares.
type sampler struct {
	mu   sync.Mutex
	last map[int]workerSample
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
			continue
		}
		cpu, _ := procstat.CPUSeconds(st.PID)
		now := time.Now()
		cur := workerSample{at: now, pid: st.PID, load: l, cpu: cpu}
		c.sampler.mu.Lock()
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
