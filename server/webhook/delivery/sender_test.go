package delivery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/webhook"
)

var testKey = []byte("a-shared-webhook-key")

// keepAlive: the sink's idle connections to the test receiver, closed with it.
var keepAlive = []goleak.Option{goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")}

// receiver is a webhook endpoint that checks signatures, answers 503 while
// down, and keeps each room's events in arrival order (ids, repeats too).
type receiver struct {
	t    *testing.T
	down atomic.Bool
	mu   sync.Mutex
	byRm map[string][]string
	bad  int
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{t: t, byRm: map[string][]string{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := webhook.Verify(testKey, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if json.Unmarshal(body, &ev) != nil || req.Header.Get(webhook.EventIDHeader) != ev.ID {
		r.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.byRm[ev.Room] = append(r.byRm[ev.Room], ev.ID)
}

// firsts is each room's ids in order of first arrival, and how many
// arrivals there were in all.
func (r *receiver) firsts(room string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, id := range r.byRm[room] {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func TestSenderDeliversSignedInOrderThroughAnOutageAndARestart(t *testing.T) {
	defer goleak.VerifyNone(t, append(keepAlive, goleak.IgnoreCurrent())...)
	rcv, srv := newReceiver(t)
	dir := t.TempDir()
	m := NewMetrics(prometheus.NewRegistry())
	start := func() *Sender {
		s, err := StartSender(SenderParams{Dir: dir, QueueMax: 100, Metrics: m, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, MaxAge: time.Hour,
			Sink: NewHTTPSink(HTTPParams{URLs: []string{srv.URL}, Key: testKey, Timeout: 2 * time.Second})})
		require.NoError(t, err)
		return s
	}
	s := start()
	want := map[string][]string{}
	emit := func(s *Sender, n int) {
		for i := range n {
			room := []string{"a", "b"}[i%2]
			ev := event(room, time.Now())
			want[room] = append(want[room], ev.ID)
			s.Emit(ev)
		}
	}
	emit(s, 4)
	require.Eventually(t, func() bool { return len(rcv.firsts("a")) == 2 && len(rcv.firsts("b")) == 2 }, 5*time.Second, 5*time.Millisecond)

	// The receiver goes down; events pile up on disk; the process stops.
	rcv.down.Store(true)
	emit(s, 6)
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.retried.WithLabelValues("http")) > 0 }, 5*time.Second, 5*time.Millisecond)
	s.Close()
	require.Equal(t, 6, s.Queued())

	// Started again, with the receiver back: all of it arrives, in order.
	rcv.down.Store(false)
	s = start()
	defer s.Close()
	emit(s, 2)
	require.Eventually(t, func() bool { return len(rcv.firsts("a")) == 6 && len(rcv.firsts("b")) == 6 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, want["a"], rcv.firsts("a"))
	require.Equal(t, want["b"], rcv.firsts("b"))
	require.Zero(t, rcv.bad)
	require.Eventually(t, func() bool { return s.Queued() == 0 }, time.Second, 5*time.Millisecond)
}

func TestSenderQueueFullIsCountedNotSilent(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	s, err := StartSender(SenderParams{Dir: t.TempDir(), QueueMax: 1, Metrics: m, RetryMin: time.Hour, RetryMax: time.Hour, MaxAge: time.Hour,
		Sink: &fakeSink{down: map[string]bool{"a": true}}})
	require.NoError(t, err)
	defer s.Close()
	s.Emit(event("a", time.Now()))
	s.Emit(event("a", time.Now()))
	require.Equal(t, 1, s.Queued())
	require.Equal(t, 1.0, testutil.ToFloat64(m.failed.WithLabelValues(FailedQueueFull)))
}

// TestConsumeAcksOnlyAfterTheReceiver: events through the durable queue
// (the in-process bus) reach the receiver; while it is down nothing is
// acked, and a consumer that goes (an API restart) leaves them to the next.
func TestConsumeAcksOnlyAfterTheReceiver(t *testing.T) {
	defer goleak.VerifyNone(t, append(keepAlive, goleak.IgnoreCurrent())...)
	rcv, srv := newReceiver(t)
	b := bus.NewLocal()
	defer b.Close()
	m := NewMetrics(prometheus.NewRegistry())
	sink := &BusSink{Bus: b, From: "srv-1"}
	consume := func() (*Lanes, bus.Subscription) {
		l := NewLanes(LanesParams{Sink: NewHTTPSink(HTTPParams{URLs: []string{srv.URL}, Key: testKey, Timeout: 2 * time.Second}),
			Metrics: m, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, MaxAge: time.Hour})
		sub, err := Consume(b, l, 4, nil, m)
		require.NoError(t, err)
		return l, sub
	}
	var want []string
	publish := func(n int) {
		for range n {
			ev := event("a", time.Now())
			want = append(want, ev.ID)
			it, err := NewItem(ev, nil)
			require.NoError(t, err)
			require.NoError(t, sink.Deliver(t.Context(), it))
		}
	}
	rcv.down.Store(true)
	l, sub := consume()
	publish(6)
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.retried.WithLabelValues("http")) > 2 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, sub.Cancel()) // the API stops
	l.Close()

	rcv.down.Store(false)
	l, sub = consume()
	defer l.Close()
	defer func() { require.NoError(t, sub.Cancel()) }()
	publish(2)
	require.Eventually(t, func() bool { return len(rcv.firsts("a")) == 8 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, want, rcv.firsts("a"))
}
