package worker

import (
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
)

// router is one room's forwarding table on this worker.
type router struct {
	id         string
	mu         sync.Mutex
	transports map[string]*transport
	producers  map[string]*producer
	stop       chan struct{}
	speakers   *speakerObserver
}

func (w *Worker) createRouter(id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.api == nil {
		return &ipc.RemoteError{Code: "not_ready", Message: "worker not initialised"}
	}
	if _, ok := w.routers[id]; ok {
		return exists("router", id)
	}
	r := &router{id: id, transports: map[string]*transport{}, producers: map[string]*producer{}, stop: make(chan struct{})}
	r.speakers = newSpeakerObserver(r, func(s []ipc.SpeakerLevel) {
		w.notify(ipc.EventSpeakers, ipc.Speakers{RouterID: id, Speakers: s})
	})
	w.routers[id] = r
	go r.speakers.run(r.stop, 300*time.Millisecond)
	return nil
}

func (w *Worker) closeRouter(r *router) {
	w.mu.Lock()
	if w.routers[r.id] != r {
		w.mu.Unlock()
		return
	}
	delete(w.routers, r.id)
	w.mu.Unlock()
	close(r.stop)
	r.mu.Lock()
	ts := make([]*transport, 0, len(r.transports))
	for _, t := range r.transports {
		ts = append(ts, t)
	}
	r.mu.Unlock()
	for _, t := range ts {
		w.closeTransport(t)
	}
}

func (r *router) producerList() []*producer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*producer, 0, len(r.producers))
	for _, p := range r.producers {
		out = append(out, p)
	}
	return out
}
