package worker

import (
	"maps"
	"slices"
	"sync"

	"github.com/voicectl/voicectl/server/ipc"
)

// router is one room's forwarding table on this worker.
type router struct {
	w          *Worker
	id         string
	mu         sync.Mutex
	transports map[string]*transport
	producers  map[string]*producer
	pipes      map[string]*pipeTransport
	// maxForwarded > 0 forwards only that many loudest producers to consumers.
	maxForwarded int
	speakers     *speakerObserver
	// speakerRound runs the observer's tick in the worker's rounds.
	speakerRound *roundJob
}

func (w *Worker) createRouter(id string, maxForwarded int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.api == nil {
		return &ipc.RemoteError{Code: ipc.CodeNotReady, Message: "worker not initialised"}
	}
	if _, ok := w.routers[id]; ok {
		return exists("router", id)
	}
	r := &router{w: w, id: id, maxForwarded: maxForwarded, transports: map[string]*transport{}, producers: map[string]*producer{}, pipes: map[string]*pipeTransport{}}
	r.speakers = newSpeakerObserver(r, func(s []ipc.SpeakerLevel) {
		w.notify(ipc.EventSpeakers, ipc.Speakers{RouterID: id, Speakers: s})
	})
	w.routers[id] = r
	// Stored before it is scheduled: its run reads it back (a race, and a
	// nil job under load, when it was stored after).
	r.speakerRound = w.api.sockets.rounds.job(r.observeSpeakers)
	r.speakerRound.Reset(speakerDelay)
	return nil
}

// speakerDelay schedules the next tick in the round after this one: rounds end
// on a grid of roundInterval, and a tick runs a little after its round's end.
const speakerDelay = observerTick - roundInterval/2

// observeSpeakers is one tick of r's audio-level observer, in the worker's
// rounds rather than on a ticker of its own: a worker with a dozen rooms was
// woken (and the runtime's monitor thread with it) 120 more times a second.
func (r *router) observeSpeakers() {
	r.speakers.tick()
	r.speakerRound.Reset(speakerDelay) // nothing once the router has closed
}

func (w *Worker) closeRouter(r *router) {
	w.mu.Lock()
	if w.routers[r.id] != r {
		w.mu.Unlock()
		return
	}
	delete(w.routers, r.id)
	w.mu.Unlock()
	r.speakerRound.Stop()
	r.mu.Lock()
	ts := slices.Collect(maps.Values(r.transports))
	ps := slices.Collect(maps.Values(r.pipes))
	r.mu.Unlock()
	for _, t := range ts {
		w.closeTransport(t)
	}
	for _, p := range ps {
		w.closePipe(p)
	}
}

// addProducer registers p on its router and in the worker's table.
func (r *router) addProducer(p *producer) {
	r.w.mu.Lock()
	r.w.producers[p.key()] = p
	r.w.mu.Unlock()
	r.mu.Lock()
	r.producers[p.id] = p
	r.mu.Unlock()
}

func (r *router) producerList() []*producer {
	return r.appendProducers(nil)
}

// appendProducers appends r's producers to out.
func (r *router) appendProducers(out []*producer) []*producer {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.producers {
		out = append(out, p)
	}
	return out
}
