package service

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// cutBus is a local bus the test says is off its broker (bus.Health and
// bus.Outage, as bus/amqp tells them).
type cutBus struct {
	*bus.Local
	mu    sync.Mutex
	since time.Time
}

func (c *cutBus) cut(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.since = at
}

func (c *cutBus) Connected() bool    { return c.DownSince().IsZero() }
func (c *cutBus) Reconnects() uint64 { return 0 }

func (c *cutBus) DownSince() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.since
}

func TestOffTheBrokerWhatNeedsItIsRefusedAtOnceAndJoinsWork(t *testing.T) {
	var cb *cutBus
	s, b := newTestServiceWith(t, func(p *Params) {
		cb = &cutBus{Local: p.Bus.(*bus.Local)}
		p.Bus = cb
		p.CreateTimeout = 5 * time.Second // what a create would wait for without the check
		p.DeadAfter = time.Second         // a beating at 50 ms is not declared dead on a loaded machine
	})
	h := s.Handler()
	a := newFakeServer(t, b, "a")
	beatEvery(t, 50*time.Millisecond, func() { a.beat(t, cluster.Heartbeat{Spare: 100}) })
	require.Eventually(t, func() bool { return s.reg.Live("a") }, 2*time.Second, 10*time.Millisecond)
	rec, _ := do(t, h, "POST", "/v1/rooms", key, `{"room": "standup"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	// A server that died before the cut, with a room the directory still has there.
	z := newFakeServer(t, b, "z")
	z.beat(t, cluster.Heartbeat{})
	require.Eventually(t, func() bool { return !s.reg.Live("z") }, 5*time.Second, 10*time.Millisecond)
	_, _, err := s.p.Directory.Create(context.Background(), "orphan", "z")
	require.NoError(t, err)

	down := time.Now().Add(-3 * time.Second).Truncate(time.Second)
	cb.cut(down)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/rooms", `{"room": "new"}`},
		{"POST", "/v1/rooms/orphan/join", `{"identity": "carol"}`}, // a re-home first
		{"POST", "/v1/rooms/new/join", `{"identity": "bob"}`},
		{"POST", "/v1/rooms/standup/move", `{}`},
		{"GET", "/v1/rooms/standup/peers", ``},
		{"POST", "/v1/servers/a/drain", `{}`},
		{"DELETE", "/v1/rooms/standup", ``},
	} {
		start := time.Now()
		rec, he := do(t, h, tc.method, tc.path, key, tc.body)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, tc.path+": "+rec.Body.String())
		require.Equal(t, wire.CodeBusUnavailable, he.Code, tc.path)
		require.Equal(t, "5", rec.Header().Get("Retry-After"), tc.path)
		require.Contains(t, he.Message, "since "+down.UTC().Format(time.RFC3339), tc.path)
		require.Less(t, time.Since(start), 2*time.Second, "%s answered at once, not after create_timeout", tc.path)
	}
	// A move that names a server wrongly is refused as such: that needs no
	// broker (whether a known server is alive or full does).
	rec, he := do(t, h, "POST", "/v1/rooms/standup/move", key, `{"to": "no-such-server"}`)
	require.Equal(t, http.StatusNotFound, rec.Code, rec.Body.String())
	require.Equal(t, CodeServerUnknown, he.Code)
	rec, he = do(t, h, "POST", "/v1/rooms/standup/move", key, `{"to": "a"}`)
	require.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	require.Equal(t, CodeAlreadyThere, he.Code)
	rec, he = do(t, h, "POST", "/v1/rooms/standup/move", key, `{"to": "z"}`)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, wire.CodeBusUnavailable, he.Code, "z seems dead, but the API is off the broker")

	// A join into a room with a live home needs no broker.
	rec, _ = do(t, h, "POST", "/v1/rooms/standup/join", key, `{"identity": "alice"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// Readiness keeps 200 and says why; the servers say the API is off the bus.
	rec, _ = do(t, h, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var ready struct {
		Bus bus.State `json:"bus"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ready))
	require.False(t, ready.Bus.Connected)
	require.True(t, ready.Bus.DownSince.Equal(down), "down since %s, said %s", down, ready.Bus.DownSince)
	rec, _ = do(t, h, "GET", "/v1/servers", key, "")
	var ss []wire.ClusterServer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ss))
	require.Len(t, ss, 2)
	for _, srv := range ss {
		require.True(t, srv.APIBusDownSince.Equal(down), srv.ID)
		require.Greater(t, srv.HeartbeatAge, 0.0, srv.ID)
	}

	cb.cut(time.Time{})
	rec, _ = do(t, h, "POST", "/v1/rooms", key, `{"room": "new"}`)
	require.Equal(t, http.StatusCreated, rec.Code, "back on the broker: "+rec.Body.String())
	rec, _ = do(t, h, "GET", "/readyz", "", "")
	require.JSONEq(t, `{"connected": true}`, string(mustField(t, rec.Body.Bytes(), "bus")))
	rec, _ = do(t, h, "GET", "/v1/servers", key, "")
	require.NotContains(t, rec.Body.String(), "api_bus_down_since")
}

func mustField(t *testing.T, body []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	return m[name]
}
