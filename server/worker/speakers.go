package worker

import (
	"slices"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
)

// activeLoudness is the loudness (127 - RFC 6464 -dBov level) above which a producer
// counts as speaking: louder than -50 dBov.
const activeLoudness = 127 - 50

// speakerObserver is the router's audio-level observer (RFC 6464): each tick it
// averages every producer's levels and reports the speaking set when it changes.
type speakerObserver struct {
	r    *router
	emit func([]ipc.SpeakerLevel)
	last []string
}

func newSpeakerObserver(r *router, emit func([]ipc.SpeakerLevel)) *speakerObserver {
	return &speakerObserver{r: r, emit: emit}
}

func (o *speakerObserver) run(stop <-chan struct{}, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			o.tick()
		}
	}
}

func (o *speakerObserver) tick() {
	var active []ipc.SpeakerLevel
	for _, p := range o.r.producerList() {
		if l := p.takeLevel(); l >= activeLoudness {
			active = append(active, ipc.SpeakerLevel{ProducerID: p.id, Level: l})
		}
	}
	slices.SortFunc(active, func(a, b ipc.SpeakerLevel) int { return b.Level - a.Level })
	ids := make([]string, len(active))
	for i, s := range active {
		ids[i] = s.ProducerID
	}
	if slices.Equal(ids, o.last) {
		return
	}
	o.last = ids
	o.emit(active)
}
