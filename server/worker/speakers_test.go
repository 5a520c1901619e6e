package worker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
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
	allocs := leastAllocsPerRun(50, func() {
		a.levelPeak.Store(120)
		b.levelPeak.Store(10)
		o.tick()
	})
	require.Zero(t, allocs)
	require.Equal(t, 1, events, "A still speaks, B still quiet")
}

// TestRouterObservesSpeakersInTheWorkersRounds: a router's observer ticks every
// round (not on a ticker of its own), its news reaches control as an event, and
// it stops when the router closes.
func TestRouterObservesSpeakersInTheWorkersRounds(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46550)
	rounds := w.api.sockets.rounds
	events := make(chan ipc.Speakers, 16)
	attachControl(t, w, speakerEvents(events))
	require.NoError(t, w.createRouter("s", 0))
	r := w.routers["s"]
	p := newProducer("S", r)
	r.addProducer(p)

	p.levelPeak.Store(120)
	select {
	case e := <-events:
		require.Equal(t, "s", e.RouterID)
		require.Equal(t, "S", e.Speakers[0].ProducerID)
	case <-time.After(2 * time.Second):
		require.Fail(t, "no speaker announced")
	}
	w.closeRouter(w.routers["r"]) // the only other job in the rounds
	start, began := rounds.ran.Load(), time.Now()
	time.Sleep(550 * time.Millisecond)
	n := rounds.ran.Load() - start
	// No round without a tick: at most one per 100 ms that passed (the
	// sleep stretches on a loaded machine, and ticks with it: 3 ran once).
	ticks := uint64(time.Since(began) / (100 * time.Millisecond))
	require.GreaterOrEqual(t, n, uint64(2), "a tick every 100 ms runs a round")
	require.LessOrEqual(t, n, ticks+2, "no round without a tick")

	w.closeRouter(r)
	stopped := rounds.ran.Load()
	time.Sleep(300 * time.Millisecond)
	require.LessOrEqual(t, rounds.ran.Load(), stopped+1, "no rounds once the router closed (one may have been due)")
	require.Equal(t, -1, r.speakerRound.index)
}

// speakerEvents is control's side of the IPC channel in a test: it passes the
// worker's speaker events on.
type speakerEvents chan ipc.Speakers

func (speakerEvents) HandleRequest(context.Context, string, json.RawMessage) (any, error) {
	return nil, errors.New("not control")
}

func (c speakerEvents) HandleEvent(method string, params json.RawMessage) {
	var e ipc.Speakers
	if method == ipc.EventSpeakers && json.Unmarshal(params, &e) == nil {
		select {
		case c <- e:
		default:
		}
	}
}
