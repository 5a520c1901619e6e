package control

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// processCPUSeconds reads a process's user+system CPU time from /proc/<pid>/stat.
func processCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat format")
	}
	// After "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat format")
	}
	var utime, stime uint64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	return float64(utime+stime) / clockTicks, nil
}

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
		cpu, _ := processCPUSeconds(st.PID)
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
