package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/supervisor"
	"github.com/voicectl/voicectl/server/wire"
)

const key = "unit-admin-key-0123456789"

// fakeRooms knows one room, "r", with one listener "p".
type fakeRooms struct {
	closed []string
}

func (f *fakeRooms) Loads() placement.Loads {
	return placement.Loads{cluster.WorkerRef{Server: "s1", Index: 0}: {Consumers: 30}}
}
func (f *fakeRooms) Counts() (int, int)      { return 1, 7 }
func (f *fakeRooms) Rooms() []wire.AdminRoom { return []wire.AdminRoom{{ID: "r"}} }
func (f *fakeRooms) Pipes() []wire.AdminPipe {
	return []wire.AdminPipe{{Room: "b", ID: "2"}, {Room: "a", ID: "1"}}
}
func (f *fakeRooms) Room(name string) (wire.AdminRoomDetail, error) {
	if err := failing(name); err != nil {
		return wire.AdminRoomDetail{}, err
	}
	if name != "r" {
		return wire.AdminRoomDetail{}, roomhost.ErrNotFound
	}
	return wire.AdminRoomDetail{}, nil
}
func (f *fakeRooms) CloseRoom(name string) (int, error) {
	if err := failing(name); err != nil {
		return 0, err
	}
	if name != "r" {
		return 0, roomhost.ErrNotFound
	}
	f.closed = append(f.closed, name)
	return 1, nil
}
func (f *fakeRooms) Kick(room, peer string) (roomhost.PeerRef, error) {
	if err := failing(room); err != nil {
		return roomhost.PeerRef{}, err
	}
	if room != "r" || peer != "p" {
		return roomhost.PeerRef{}, roomhost.ErrNotFound
	}
	return roomhost.PeerRef{ID: "p", Identity: "pat"}, nil
}
func (f *fakeRooms) MutePeer(room, peer string, muted bool) (roomhost.PeerRef, error) {
	if err := failing(room); err != nil {
		return roomhost.PeerRef{}, err
	}
	if room != "r" {
		return roomhost.PeerRef{}, roomhost.ErrNotFound
	}
	if peer == "p" {
		return roomhost.PeerRef{}, roomhost.ErrNotProducer
	}
	return roomhost.PeerRef{ID: peer, Identity: "x"}, nil
}

// failing is the error the fake answers for rooms named for one: "down"
// fails as a stopping host does, "bug" with an error that has no code.
func failing(room string) error {
	switch room {
	case "down":
		return fmt.Errorf("room %s: %w", room, roomhost.ErrUnavailable)
	case "bug":
		return errors.New("boom")
	}
	return nil
}

// fakeWorkers has one worker that is down (so nothing is called).
type fakeWorkers struct{}

func (fakeWorkers) Workers() []supervisor.WorkerStatus {
	return []supervisor.WorkerStatus{{Index: 0, Port: 40000, Restarts: 2}}
}
func (fakeWorkers) Ref(i int) cluster.WorkerRef               { return cluster.WorkerRef{Server: "s1", Index: i} }
func (fakeWorkers) Client(cluster.WorkerRef) ipc.WorkerClient { return nil }
func (fakeWorkers) LastSample(int) (supervisor.Sample, bool)  { return supervisor.Sample{}, false }

type fixture struct {
	api    *API
	mux    *http.ServeMux
	rooms  *fakeRooms
	drains []time.Duration
}

func newFixture(t *testing.T, k string) *fixture {
	t.Helper()
	f := &fixture{rooms: &fakeRooms{}, mux: http.NewServeMux()}
	f.api = New(Params{Key: k, Registerer: prometheus.NewRegistry(), Rooms: f.rooms, Workers: fakeWorkers{}, Capacity: 100,
		ServerID: "s1", Drain: func(d time.Duration) time.Time {
			f.drains = append(f.drains, d)
			return time.Unix(1000, 0).UTC()
		}})
	f.api.Register(f.mux)
	return f
}

// do serves one request with the right key unless withKey is false.
func (f *fixture) do(method, path, body string, withKey bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	if withKey {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

func TestNotFoundAnswers404(t *testing.T) {
	f := newFixture(t, key)
	for _, c := range []struct{ method, path string }{
		{"GET", "/admin/v1/rooms/nope"},
		{"DELETE", "/admin/v1/rooms/nope"},
		{"POST", "/admin/v1/rooms/nope/close"},
		{"POST", "/admin/v1/rooms/r/peers/nobody/kick"},
		{"DELETE", "/admin/v1/rooms/r/peers/nobody"},
		{"POST", "/admin/v1/rooms/nope/peers/p/mute"},
		{"GET", "/admin/v1/nothing-here"},
	} {
		w := f.do(c.method, c.path, "", true)
		require.Equal(t, http.StatusNotFound, w.Code, "%s %s", c.method, c.path)
		require.Equal(t, wire.CodeNotFound, decode[wire.HTTPError](t, w).Code, "%s %s", c.method, c.path)
	}
	require.Empty(t, f.rooms.closed)
}

func TestActionsAnswerWhatTheyDid(t *testing.T) {
	f := newFixture(t, key)
	w := f.do("DELETE", "/admin/v1/rooms/r", "", true)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "room r closed; 1 peers removed", decode[wire.AdminResult](t, w).Message)
	require.Equal(t, []string{"r"}, f.rooms.closed)

	w = f.do("POST", "/admin/v1/rooms/r/peers/p/kick", "", true)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "peer p (pat) kicked", decode[wire.AdminResult](t, w).Message)

	w = f.do("POST", "/admin/v1/rooms/r/peers/q/mute", `{"muted":false}`, true)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "peer q (x) unmuted", decode[wire.AdminResult](t, w).Message)

	w = f.do("POST", "/admin/v1/rooms/r/peers/p/mute", "", true)
	require.Equal(t, http.StatusConflict, w.Code, "a listener cannot be muted")
	require.Equal(t, wire.CodePublishNotAllowed, decode[wire.HTTPError](t, w).Code)

	w = f.do("POST", "/admin/v1/rooms/r/peers/q/mute", `{"muted":`, true)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Equal(t, wire.CodeBadRequest, decode[wire.HTTPError](t, w).Code)

	w = f.do("GET", "/admin/v1/pipes", "", true)
	require.Equal(t, http.StatusOK, w.Code)
	pipes := decode[[]wire.AdminPipe](t, w)
	require.Equal(t, []string{"a", "b"}, []string{pipes[0].Room, pipes[1].Room}, "sorted by room")
}

func TestWorkersListsDownWorkersWithReservedLoad(t *testing.T) {
	f := newFixture(t, key)
	w := f.do("GET", "/admin/v1/workers", "", true)
	require.Equal(t, http.StatusOK, w.Code)
	ws := decode[[]wire.AdminWorker](t, w)
	require.Len(t, ws, 1)
	require.False(t, ws[0].Ready)
	require.Equal(t, 2, ws[0].Restarts)
	require.Equal(t, 40000, ws[0].Port)
	require.Equal(t, 100, ws[0].Capacity)
	require.Equal(t, 30, ws[0].ReservedLoad)
	require.InDelta(t, 0.3, ws[0].Stress, 1e-9)
}

func TestDrain(t *testing.T) {
	f := newFixture(t, key)
	for _, body := range []string{`{"deadline":"soon"}`, `{"deadline":"-1m"}`, `{"until":"5m"}`} {
		w := f.do("POST", "/admin/v1/drain", body, true)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
		require.Equal(t, wire.CodeBadRequest, decode[wire.HTTPError](t, w).Code)
	}
	require.Empty(t, f.drains)
	w := f.do("POST", "/admin/v1/drain", `{"deadline":"5m"}`, true)
	require.Equal(t, http.StatusOK, w.Code)
	d := decode[wire.ClusterDrain](t, w)
	require.Equal(t, "s1", d.Server)
	require.Equal(t, 7, d.Peers)
	require.True(t, d.Until.Equal(time.Unix(1000, 0)))
	w = f.do("POST", "/admin/v1/drain", "", true)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, []time.Duration{5 * time.Minute, 0}, f.drains)
}

func TestKeyIsRequired(t *testing.T) {
	f := newFixture(t, key)
	w := f.do("GET", "/admin/v1/rooms", "", false)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Equal(t, wire.CodeUnauthorized, decode[wire.HTTPError](t, w).Code)
	w = f.do("GET", "/admin/v1/nothing-here", "", false)
	require.Equal(t, http.StatusUnauthorized, w.Code, "unknown admin paths need the key too")
	require.Equal(t, 2.0, testutil.ToFloat64(f.api.authFailures))

	off := newFixture(t, "")
	w = off.do("GET", "/admin/v1/rooms", "", true)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, decode[wire.HTTPError](t, w).Message, "disabled")
}

// TestEveryHandlerMapsEveryError: an error that is not "not found" is
// answered with its own code and status, never 200.
func TestEveryHandlerMapsEveryError(t *testing.T) {
	f := newFixture(t, key)
	for _, room := range []string{"down", "bug"} {
		status, code := http.StatusServiceUnavailable, wire.CodeUnavailable
		if room == "bug" {
			status, code = http.StatusInternalServerError, wire.CodeInternal
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/admin/v1/rooms/" + room},
			{"DELETE", "/admin/v1/rooms/" + room},
			{"POST", "/admin/v1/rooms/" + room + "/close"},
			{"POST", "/admin/v1/rooms/" + room + "/peers/p/kick"},
			{"DELETE", "/admin/v1/rooms/" + room + "/peers/p"},
			{"POST", "/admin/v1/rooms/" + room + "/peers/p/mute"},
		} {
			w := f.do(c.method, c.path, "", true)
			require.Equal(t, status, w.Code, "%s %s: %s", c.method, c.path, w.Body.String())
			he := decode[wire.HTTPError](t, w)
			require.Equal(t, code, he.Code, "%s %s", c.method, c.path)
			require.NotEmpty(t, he.Message)
		}
	}
	require.Empty(t, f.rooms.closed)
}
