package service

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// stalledBus is a frozenBus (failover_test.go) whose requests also wait
// until their deadline while frozen, as a SIGSTOPped broker's do: the
// connection stays up, so the bus tells no outage.
type stalledBus struct {
	*frozenBus
}

func (f stalledBus) Request(ctx context.Context, dst bus.Destination, req bus.Envelope) (bus.Envelope, error) {
	if f.frozen.Load() {
		<-ctx.Done()
		return bus.Envelope{}, ctx.Err()
	}
	return f.Local.Request(ctx, dst, req)
}

func readyState(t *testing.T, h http.Handler) bus.State {
	t.Helper()
	rec, _ := do(t, h, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusOK, rec.Code, "a broker outage fails no readiness probe")
	var st bus.State
	require.NoError(t, json.Unmarshal(mustField(t, rec.Body.Bytes(), "bus"), &st))
	return st
}

func TestAFrozenBrokerIsAnOutageFromTheLastOwnBeatBack(t *testing.T) {
	var fb *frozenBus
	s, b := newTestServiceWith(t, func(p *Params) {
		fb = &frozenBus{Local: p.Bus.(*bus.Local)}
		p.Bus = stalledBus{fb}
		p.CreateTimeout = 5 * time.Second // what a create would wait for without the watch
		p.DeadAfter = time.Second
	})
	h := s.Handler()
	a := newFakeServer(t, b, "a")
	beatEvery(t, 50*time.Millisecond, func() { a.beat(t, cluster.Heartbeat{Spare: 100}) })
	require.Eventually(t, func() bool { return s.reg.Live("a") }, 2*time.Second, 10*time.Millisecond)
	rec, _ := do(t, h, "POST", "/v1/rooms", key, `{"room": "before"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.True(t, readyState(t, h).Connected)

	frozeAt := time.Now()
	fb.frozen.Store(true)
	var st bus.State
	require.Eventually(t, func() bool { st = readyState(t, h); return !st.Connected }, 5*time.Second, 10*time.Millisecond,
		"the API's own beats stop coming back")
	require.False(t, st.DownSince.After(frozeAt), "down since the last beat back, %s, before the freeze at %s", st.DownSince, frozeAt)
	require.Less(t, frozeAt.Sub(st.DownSince), time.Second, "down since the last beat back, not since the start")

	start := time.Now()
	rec, he := do(t, h, "POST", "/v1/rooms", key, `{"room": "new"}`)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, wire.CodeBusUnavailable, he.Code)
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	require.Contains(t, he.Message, "since "+st.DownSince.UTC().Format(time.RFC3339))
	require.Less(t, time.Since(start), 2*time.Second, "answered at once, not after create_timeout")
	rec, _ = do(t, h, "GET", "/v1/servers", key, "")
	var ss []wire.ClusterServer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ss))
	require.Len(t, ss, 1)
	require.True(t, ss[0].APIBusDownSince.Equal(st.DownSince), "servers say %s, /readyz %s", ss[0].APIBusDownSince, st.DownSince)

	fb.frozen.Store(false)
	require.Eventually(t, func() bool { return readyState(t, h).Connected }, 5*time.Second, 10*time.Millisecond)
	rec, _ = do(t, h, "POST", "/v1/rooms", key, `{"room": "new"}`)
	require.Equal(t, http.StatusCreated, rec.Code, "thawed: "+rec.Body.String())
	rec, _ = do(t, h, "GET", "/v1/servers", key, "")
	require.NotContains(t, rec.Body.String(), "api_bus_down_since")
}

// An API that starts behind a frozen broker is on the bus until one quiet
// window has passed without a beat back, then off it since its start.
func TestAnAPIStartedBehindAFrozenBrokerIsOffItSinceItsStart(t *testing.T) {
	before := time.Now()
	var fb *frozenBus
	s, _ := newTestServiceWith(t, func(p *Params) {
		fb = &frozenBus{Local: p.Bus.(*bus.Local)}
		fb.frozen.Store(true)
		p.Bus = stalledBus{fb}
	})
	h := s.Handler()
	var st bus.State
	require.Eventually(t, func() bool { st = readyState(t, h); return !st.Connected }, 5*time.Second, 10*time.Millisecond)
	require.True(t, time.Since(before) > minBusQuiet, "not off the bus before a quiet window without beats")
	require.False(t, st.DownSince.Before(before), "down since the API's start, not %s", st.DownSince)
	require.Less(t, st.DownSince.Sub(before), time.Second)
}
