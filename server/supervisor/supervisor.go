// Package supervisor runs this server's worker processes: it starts them,
// restarts the ones that exit or stop answering, and samples their load once
// a second. It is the room host's roomhost.Workers: the host places routers
// on the workers it lists and calls them through their clients.
package supervisor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/ipc"
)

// Params configures a Supervisor.
type Params struct {
	Logger *slog.Logger
	// Worker and RTC are the worker processes' settings (count, restart
	// backoff, hang timeout; ports and addresses for their Init).
	Worker config.Worker
	RTC    config.RTC
	// Count is how many workers to run (config.Config.EffectiveWorkers).
	Count    int
	ServerID cluster.ServerID
	Command  WorkerCommand
	// OnEvent takes every event a worker sends, decoded.
	OnEvent func(from cluster.WorkerRef, method string, raw []byte, ev ipc.Event)
	// OnLost is called when a worker that was ready has exited, before it
	// is restarted: its routers are gone.
	OnLost func(ref cluster.WorkerRef)
}

// Supervisor keeps the worker processes running.
type Supervisor struct {
	log     *slog.Logger
	p       Params
	slots   []*slot
	sampler sampler
}

// New prepares the supervision of p.Count workers; Start starts them.
func New(p Params) *Supervisor {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.ServerID == "" {
		p.ServerID = cluster.Local
	}
	s := &Supervisor{log: p.Logger, p: p, sampler: sampler{last: map[int]Sample{}, answered: map[int]Sample{}}}
	for i := 0; i < p.Count; i++ {
		sl := &slot{index: i, port: p.RTC.Port + i, ref: cluster.LocalWorker(p.ServerID, i), sup: s}
		sl.client = ipc.NewClient(sl.ref, slotCaller{sl})
		s.slots = append(s.slots, sl)
	}
	return s
}

// Start launches every worker and returns once all are ready (or the first
// failed to start, after stopping the others). The returned function stops
// them and waits for them to exit.
func (s *Supervisor) Start() (stop func(), err error) {
	wctx, cancelWorkers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	started := make(chan error, len(s.slots))
	for _, sl := range s.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sl.run(wctx, started)
		}()
	}
	var startErr error
	for range s.slots {
		if err := <-started; err != nil && startErr == nil {
			startErr = err
		}
	}
	stop = func() {
		cancelWorkers()
		var swg sync.WaitGroup
		for _, sl := range s.slots {
			swg.Add(1)
			go func() {
				defer swg.Done()
				sl.stop(2 * time.Second)
			}()
		}
		swg.Wait()
		wg.Wait()
	}
	if startErr != nil {
		stop()
		return nil, startErr
	}
	return stop, nil
}

// Len is the number of workers supervised, ready or not.
func (s *Supervisor) Len() int { return len(s.slots) }

// Ref names worker i.
func (s *Supervisor) Ref(i int) cluster.WorkerRef { return s.slots[i].ref }

// Workers reports every worker's supervision state.
func (s *Supervisor) Workers() []WorkerStatus {
	out := make([]WorkerStatus, len(s.slots))
	for i, sl := range s.slots {
		out[i] = sl.status()
	}
	return out
}

// Ready counts the workers that are up.
func (s *Supervisor) Ready() int {
	n := 0
	for _, sl := range s.slots {
		if sl.status().Ready {
			n++
		}
	}
	return n
}
