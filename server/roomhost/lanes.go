package roomhost

import "sync"

// lanes runs functions in order per key and in parallel across keys: worker
// events about one transport (producer.new, then producer.closed) are handled
// one after the other, while other transports' events go on. A lane's
// goroutine exists only while it has work; stop waits for every one.
type lanes struct {
	mu      sync.Mutex
	queued  map[string][]func() // a key is present while its goroutine runs
	stopped bool
	wg      sync.WaitGroup
}

func newLanes() *lanes { return &lanes{queued: map[string][]func(){}} }

// do queues f behind key's earlier work; after stop it drops f.
func (l *lanes) do(key string, f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	q, running := l.queued[key]
	l.queued[key] = append(q, f)
	if !running {
		l.wg.Add(1)
		go l.run(key)
	}
}

func (l *lanes) run(key string) {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		q := l.queued[key]
		if len(q) == 0 {
			delete(l.queued, key)
			l.mu.Unlock()
			return
		}
		f := q[0]
		q[0] = nil
		l.queued[key] = q[1:]
		l.mu.Unlock()
		f()
	}
}

// stop refuses new work and waits until queued work is done.
func (l *lanes) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.wg.Wait()
}
