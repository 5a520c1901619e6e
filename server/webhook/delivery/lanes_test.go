package delivery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/webhook"
)

// fakeSink fails every try of the rooms in down, records the rest.
type fakeSink struct {
	mu   sync.Mutex
	down map[string]bool
	got  []webhook.Event
	errs int
}

func (s *fakeSink) Kind() string { return "http" }

func (s *fakeSink) Deliver(_ context.Context, it *Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down[it.Event.Room] {
		s.errs++
		return errors.New("down")
	}
	s.got = append(s.got, it.Event)
	return nil
}

func (s *fakeSink) set(room string, down bool) {
	s.mu.Lock()
	s.down[room] = down
	s.mu.Unlock()
}

func (s *fakeSink) rooms(room string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, e := range s.got {
		if e.Room == room {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func event(room string, at time.Time) webhook.Event {
	ev := webhook.New(webhook.ParticipantJoined, at)
	ev.Room = room
	return ev
}

func TestLanesKeepOrderPerRoomAndDoNotBlockOthers(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &fakeSink{down: map[string]bool{"a": true}}
	m := NewMetrics(prometheus.NewRegistry())
	l := NewLanes(LanesParams{Sink: sink, Metrics: m, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, MaxAge: time.Hour})
	defer l.Close()
	var wantA, wantB []string
	for range 5 {
		a, b := event("a", time.Now()), event("b", time.Now())
		wantA, wantB = append(wantA, a.ID), append(wantB, b.ID)
		for _, ev := range []webhook.Event{a, b} {
			it, err := NewItem(ev, nil)
			require.NoError(t, err)
			l.Add(it)
		}
	}
	require.Eventually(t, func() bool { return len(sink.rooms("b")) == 5 }, 5*time.Second, time.Millisecond,
		"room b is delivered while room a's receiver fails")
	require.Equal(t, wantB, sink.rooms("b"))
	require.Empty(t, sink.rooms("a"))
	// The lane counts a delivery once the sink has returned, a moment after
	// the sink has it (6 pending once, read in between, beside make test).
	gauge := func(g float64) func() bool {
		return func() bool { return testutil.ToFloat64(m.pending.WithLabelValues("http")) == g }
	}
	require.Eventually(t, gauge(5), time.Second, time.Millisecond, "room a's five still pending")
	sink.set("a", false)
	require.Eventually(t, func() bool { return len(sink.rooms("a")) == 5 }, 5*time.Second, time.Millisecond)
	require.Equal(t, wantA, sink.rooms("a"), "in order once it is back")
	require.Eventually(t, gauge(0), time.Second, time.Millisecond)
	require.Equal(t, 10.0, testutil.ToFloat64(m.delivered.WithLabelValues("http")))
	require.Positive(t, testutil.ToFloat64(m.retried.WithLabelValues("http")))
}

func TestLanesGiveUpPastMaxAgeLoudly(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &fakeSink{down: map[string]bool{"a": true}}
	m := NewMetrics(prometheus.NewRegistry())
	l := NewLanes(LanesParams{Sink: sink, Metrics: m, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, MaxAge: 50 * time.Millisecond})
	defer l.Close()
	given := make(chan bool, 2)
	old, err := NewItem(event("a", time.Now()), func(ok bool) { given <- ok })
	require.NoError(t, err)
	l.Add(old)
	next, err := NewItem(event("a", time.Now().Add(time.Hour)), func(ok bool) { given <- ok })
	require.NoError(t, err)
	l.Add(next)
	require.False(t, <-given, "the first is given up once older than max_age")
	require.Equal(t, 1.0, testutil.ToFloat64(m.failed.WithLabelValues(FailedMaxAge)))
	sink.set("a", false)
	require.True(t, <-given, "and the room's next one goes")
}

func TestLanesDropWhatTheirOwnerTookBack(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &fakeSink{down: map[string]bool{"a": true}}
	l := NewLanes(LanesParams{Sink: sink, RetryMin: time.Millisecond, RetryMax: time.Millisecond, MaxAge: time.Hour})
	defer l.Close()
	gone := make(chan struct{})
	it, err := NewItem(event("a", time.Now()), nil)
	require.NoError(t, err)
	it.gone = gone
	l.Add(it)
	close(gone)
	require.Eventually(t, func() bool { return l.Pending() == 0 }, 5*time.Second, time.Millisecond)
	sink.set("a", false)
	require.Empty(t, sink.rooms("a"))
}
