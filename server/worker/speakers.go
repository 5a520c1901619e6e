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

	// Reused tick after tick: a quiet tick allocates nothing.
	producers []*producer
	next      map[*producer]int
	active    []ipc.SpeakerLevel
	ids       []string
}

func newSpeakerObserver(r *router, emit func([]ipc.SpeakerLevel)) *speakerObserver {
	return &speakerObserver{r: r, emit: emit, level: map[*producer]int{}, next: map[*producer]int{}}
}

func (o *speakerObserver) tick() {
	o.producers = o.r.appendProducers(o.producers[:0])
	producers := o.producers
	levels := o.next
	clear(levels)
	for _, p := range producers {
		l := p.takeLevel()
		if prev, ok := o.level[p]; ok {
			l = max(l, prev-decayPerTick)
		}
		levels[p] = max(l, 0)
	}
	o.level, o.next = levels, o.level

	if o.r.maxForwarded > 0 {
		o.selectLoudest(producers, levels)
	}

	active := o.active[:0]
	for _, p := range producers {
		if l := levels[p]; l >= activeLoudness {
			active = append(active, ipc.SpeakerLevel{ProducerID: p.id, Level: l})
		}
	}
	o.active = active
	// Announce only when who is speaking changes, not when two speakers swap
	// places: every event goes to every peer of the room, and in a big room a
	// few per second to each listener cost more than the audio.
	ids := o.ids[:0]
	for _, s := range active {
		ids = append(ids, s.ProducerID)
	}
	slices.Sort(ids)
	if slices.Equal(ids, o.last) {
		o.ids = ids
		return
	}
	o.last, o.ids = ids, o.last
	sorted := slices.Clone(active)
	slices.SortFunc(sorted, func(a, b ipc.SpeakerLevel) int { return b.Level - a.Level })
	o.emit(sorted)
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
