package worker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
)

// TestSpeakersAnnouncedOnlyWhenTheSetChanges: two speakers trading places is
// not news; one starting or stopping is.
func TestSpeakersAnnouncedOnlyWhenTheSetChanges(t *testing.T) {
	w := &Worker{producers: map[string]*producer{}}
	r := &router{w: w, producers: map[string]*producer{}}
	var events [][]ipc.SpeakerLevel
	o := newSpeakerObserver(r, func(s []ipc.SpeakerLevel) { events = append(events, s) })
	a, b := newProducer("A", r), newProducer("B", r)
	r.addProducer(a)
	r.addProducer(b)
	speak := func(p *producer, loud uint32) { p.levelPeak.Store(loud) }

	speak(a, 120)
	speak(b, 100)
	o.tick()
	require.Len(t, events, 1)
	require.Equal(t, "A", events[0][0].ProducerID, "loudest first")

	speak(a, 100)
	speak(b, 120)
	o.tick()
	require.Len(t, events, 1, "the same two speakers in another order")

	for i := 0; i < 20; i++ { // A falls silent and decays below the threshold
		speak(b, 120)
		o.tick()
	}
	require.Len(t, events, 2)
	require.Len(t, events[1], 1)
	require.Equal(t, "B", events[1][0].ProducerID)
}

// TestSpeakerTicksWithoutNewsAllocateNothing: ten ticks a second per room.
func TestSpeakerTicksWithoutNewsAllocateNothing(t *testing.T) {
	w := &Worker{producers: map[string]*producer{}}
	r := &router{w: w, producers: map[string]*producer{}}
	events := 0
	o := newSpeakerObserver(r, func([]ipc.SpeakerLevel) { events++ })
	a, b := newProducer("A", r), newProducer("B", r)
	r.addProducer(a)
	r.addProducer(b)
	a.levelPeak.Store(120)
	o.tick()
	require.Equal(t, 1, events)
	allocs := testing.AllocsPerRun(50, func() {
		a.levelPeak.Store(120)
		b.levelPeak.Store(10)
		o.tick()
	})
	require.Zero(t, allocs)
	require.Equal(t, 1, events, "A still speaks, B still quiet")
}
