package worker

import (
	"slices"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
)

const (
	// activeLoudness is the loudness (127 - RFC 6464 -dBov level) above which a
	// producer counts as speaking: louder than -50 dBov.
	activeLoudness = 127 - 50
	// observerTick is how often levels are averaged and the loudest-N set revised.
	observerTick = 100 * time.Millisecond
	// switchMargin is how much louder (in dB) a held-back producer must be than the
	// quietest forwarded one to take its place: hysteresis against flapping.
	switchMargin = 6
	// decayPerTick is how fast a level falls once a producer goes quiet (dB per
	// tick): it rises at once and lingers, bridging the gaps between syllables.
	decayPerTick = 4
)

// speakerObserver is the router's audio-level observer (RFC 6464). Each tick it
// takes every producer's peak level (fast attack, slow decay), reports the speaking set when it changes and, for
// loudest-N routers, picks which producers are forwarded.
type speakerObserver struct {
	r     *router
	emit  func([]ipc.SpeakerLevel)
	last  []string
	level map[*producer]int
}

func newSpeakerObserver(r *router, emit func([]ipc.SpeakerLevel)) *speakerObserver {
	return &speakerObserver{r: r, emit: emit, level: map[*producer]int{}}
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
	producers := o.r.producerList()
	levels := make(map[*producer]int, len(producers))
	for _, p := range producers {
		l := p.takeLevel()
		if prev, ok := o.level[p]; ok {
			l = max(l, prev-decayPerTick)
		}
		levels[p] = max(l, 0)
	}
	o.level = levels

	if o.r.maxForwarded > 0 {
		o.selectLoudest(producers, levels)
	}

	var active []ipc.SpeakerLevel
	for _, p := range producers {
		if l := levels[p]; l >= activeLoudness {
			active = append(active, ipc.SpeakerLevel{ProducerID: p.id, Level: l})
		}
	}
	slices.SortFunc(active, func(a, b ipc.SpeakerLevel) int { return b.Level - a.Level })
	// Announce only when who is speaking changes, not when two speakers swap
	// places: every event goes to every peer of the room, and in a big room a
	// few per second to each listener cost more than the audio.
	ids := make([]string, len(active))
	for i, s := range active {
		ids[i] = s.ProducerID
	}
	slices.Sort(ids)
	if slices.Equal(ids, o.last) {
		return
	}
	o.last = ids
	o.emit(active)
}

// selectLoudest keeps the forwarded set at the N loudest producers, swapping one in
// only when it is switchMargin louder than the quietest forwarded producer.
func (o *speakerObserver) selectLoudest(producers []*producer, levels map[*producer]int) {
	n := o.r.maxForwarded
	var in, out []*producer
	for _, p := range producers {
		if p.selected.Load() {
			in = append(in, p)
		} else if levels[p] > 0 {
			out = append(out, p)
		}
	}
	byLevel := func(a, b *producer) int { return levels[b] - levels[a] }
	slices.SortFunc(in, byLevel)
	slices.SortFunc(out, byLevel)
	for len(in) > n { // the limit shrank, or a producer was selected elsewhere
		in[len(in)-1].selected.Store(false)
		in = in[:len(in)-1]
	}
	for len(out) > 0 && len(in) < n {
		out[0].selected.Store(true)
		in = append(in, out[0])
		out = out[1:]
	}
	slices.SortFunc(in, byLevel)
	for len(out) > 0 && len(in) > 0 && levels[out[0]] > levels[in[len(in)-1]]+switchMargin {
		weakest := in[len(in)-1]
		weakest.selected.Store(false)
		out[0].selected.Store(true)
		in[len(in)-1] = out[0]
		out = append(out[1:], weakest)
		slices.SortFunc(in, byLevel)
		slices.SortFunc(out, byLevel)
	}
}
