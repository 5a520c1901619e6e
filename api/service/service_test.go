package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/api/directory/directorytest"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestService(t *testing.T, dev bool) (*Service, *bus.Local) {
	t.Helper()
	return newTestServiceWith(t, func(p *Params) { p.Dev = dev })
}

// newTestServiceWith starts a service on a local bus; set changes its
// params before it starts.
func newTestServiceWith(t *testing.T, set func(*Params)) (*Service, *bus.Local) {
	t.Helper()
	dir := directorytest.New()
	b := bus.NewLocal()
	t.Cleanup(func() { _ = b.Close() })
	p := Params{Bus: b, Directory: dir, Secret: []byte("0123456789abcdef0123"), APIKey: "apps-key-0123456789", HighWater: 0.8,
		Heartbeat: 100 * time.Millisecond, DeadAfter: 300 * time.Millisecond, CreateTimeout: time.Second, TokenTTL: time.Hour}
	set(&p)
	s := New(p)
	require.NoError(t, s.Start())
	t.Cleanup(s.Stop)
	return s, b
}

func do(t *testing.T, h http.Handler, method, path, key, body string) (*httptest.ResponseRecorder, wire.HTTPError) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var he wire.HTTPError
	_ = json.Unmarshal(rec.Body.Bytes(), &he)
	return rec, he
}

func TestHandlerRoutesAndRefusals(t *testing.T) {
	s, _ := newTestService(t, true)
	h := s.Handler()
	rec, he := do(t, h, "GET", "/v1/rooms", "", "")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, wire.CodeUnauthorized, he.Code)
	rec, he = do(t, h, "GET", "/v1/nothing", "apps-key-0123456789", "")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, wire.CodeNotFound, he.Code)
	rec, he = do(t, h, "POST", "/v1/rooms", "apps-key-0123456789", `{"room": "x", "extra": 1}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, wire.CodeBadRequest, he.Code)
	rec, _ = do(t, h, "GET", "/", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "<html")
	rec, _ = do(t, h, "GET", "/v1/info", "", "")
	require.JSONEq(t, `{"dev": true, "cluster": true, "version": ""}`, rec.Body.String())
	rec, he = do(t, h, "GET", "/v1/dev/join?room=r", "", "")
	require.Equal(t, http.StatusBadRequest, rec.Code, "identity is required")

	// No server at all: the create waits on the shared queue and is answered no_capacity.
	start := time.Now()
	rec, he = do(t, h, "POST", "/v1/rooms", "apps-key-0123456789", `{"room": "lonely"}`)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, wire.CodeNoCapacity, he.Code)
	require.Less(t, time.Since(start), 3*time.Second, "answered within create_timeout")

	s2, _ := newTestService(t, false)
	rec, _ = do(t, s2.Handler(), "GET", "/v1/dev/join?room=r&identity=a", "", "")
	require.Equal(t, http.StatusUnauthorized, rec.Code, "no dev join outside --dev")
}

func TestForgedAndMalformedHeartbeatsAreDropped(t *testing.T) {
	s, b := newTestService(t, false)
	ctx := context.Background()
	body, _ := json.Marshal(cluster.Heartbeat{Server: "real", SignalURL: "http://127.0.0.11:7880"})
	require.NoError(t, b.Publish(ctx, "heartbeat.x", bus.Envelope{Type: bus.TypeHeartbeat, From: "someone-else", Body: body}))
	require.NoError(t, b.Publish(ctx, "heartbeat.x", bus.Envelope{Type: bus.TypeHeartbeat, From: "real", Body: []byte(`{nope`)}))
	require.Empty(t, s.reg.Snapshot())
	require.NoError(t, b.Publish(ctx, "heartbeat.real", bus.Envelope{Type: bus.TypeHeartbeat, From: "real", Body: body}))
	require.Len(t, s.reg.Snapshot(), 1)
	require.Eventually(t, func() bool { return !s.reg.Live("real") }, 2*time.Second, 10*time.Millisecond, "silent past dead_after")
}

func TestRoomAnswersSayTheServersState(t *testing.T) {
	s, b := newTestService(t, false)
	h := s.Handler()
	ctx := context.Background()
	d := newFakeServer(t, b, "d")
	for room, server := range map[string]cluster.ServerID{"on-d": "d", "on-ghost": "ghost"} {
		_, _, err := s.p.Directory.Create(ctx, room, server)
		require.NoError(t, err)
	}
	state := func(room string) cluster.ServerState {
		rec, _ := do(t, h, "GET", "/v1/rooms/"+room, key, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var ra RoomAnswer
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ra))
		return ra.ServerState
	}
	servers := func() cluster.ServerState {
		rec, _ := do(t, h, "GET", "/v1/servers", key, "")
		var ss []wire.ClusterServer
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ss))
		require.Len(t, ss, 1)
		return ss[0].State
	}
	require.Equal(t, cluster.ServerUnknown, state("on-ghost"))
	d.beat(t, cluster.Heartbeat{})
	require.Equal(t, cluster.ServerLive, state("on-d"))
	require.Equal(t, cluster.ServerLive, servers())
	d.beat(t, cluster.Heartbeat{Draining: true})
	require.Equal(t, cluster.ServerDraining, state("on-d"), "a draining server is said so")
	require.Equal(t, cluster.ServerDraining, servers())
	require.Eventually(t, func() bool { return state("on-d") == cluster.ServerDead }, 2*time.Second, 20*time.Millisecond)
	require.Equal(t, cluster.ServerDead, servers())
}

func TestReadinessFollowsTheDirectory(t *testing.T) {
	var dir *directorytest.Memory
	s, _ := newTestServiceWith(t, func(p *Params) { dir = p.Directory.(*directorytest.Memory) })
	h := s.Handler()
	rec, _ := do(t, h, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `true`, string(mustField(t, rec.Body.Bytes(), "directory_ok")))
	require.JSONEq(t, `"memory"`, string(mustField(t, rec.Body.Bytes(), "directory")))

	dir.SetDown(true)
	rec, _ = do(t, h, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "no request can do without the directory")
	require.JSONEq(t, `false`, string(mustField(t, rec.Body.Bytes(), "directory_ok")))
	rec, he := do(t, h, "GET", "/v1/rooms/standup", "apps-key-0123456789", "")
	require.Equal(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
	require.NotEmpty(t, he.Code)

	dir.SetDown(false)
	rec, _ = do(t, h, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
}
