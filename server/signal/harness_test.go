package signal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/internal/signaltest"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/testenv"
	"github.com/voicectl/voicectl/server/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSecret = "signal-test-secret-0123456789"

// fakeRooms takes every client and admits every join; media requests
// answer err.
type fakeRooms struct {
	draining, full bool
	// admitErr fails joins; err fails media requests and mutes.
	admitErr, err error
}

func (f *fakeRooms) Draining() bool        { return f.draining }
func (f *fakeRooms) Owns(room string) bool { return room != "elsewhere" }
func (f *fakeRooms) Full() bool            { return f.full }
func (f *fakeRooms) Admit(req roomhost.JoinRequest) (roomhost.Admission, error) {
	if f.admitErr != nil {
		return roomhost.Admission{}, f.admitErr
	}
	return roomhost.Admission{PeerID: "PA_" + req.Identity}, nil
}
func (f *fakeRooms) Connect(context.Context, string) error { return nil }
func (f *fakeRooms) Answer(context.Context, string, string) error {
	return f.err
}
func (f *fakeRooms) AddCandidate(context.Context, string, wire.ICECandidate) error { return f.err }
func (f *fakeRooms) Mute(string, bool) error                                       { return f.err }
func (f *fakeRooms) RestartICE(context.Context, string) error                      { return f.err }
func (f *fakeRooms) Leave(string)                                                  {}

type server struct {
	t     *testing.T
	srv   *Server
	rooms *fakeRooms
	url   string
}

func testConfig() config.Signal {
	return config.Signal{MaxMessageBytes: 64 << 10, MaxConnections: 10000, MaxConnectionsPerAddress: 256,
		MaxMessagesPerSecond: 50, JoinTimeout: 30 * time.Second, MaxSDPBytes: 32 << 10, MaxCandidates: 100, ReadHeaderTimeout: 10 * time.Second}
}

// startServer serves cfg's signalling on a loopback listener, in front of
// rooms that take everyone.
func startServer(t *testing.T, cfg config.Signal) *server {
	t.Helper()
	return startServerWith(t, cfg, &fakeRooms{})
}

// startServerWith serves cfg's signalling in front of rooms, which must
// not change once served.
func startServerWith(t *testing.T, cfg config.Signal, rooms *fakeRooms) *server {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	h := &server{t: t, rooms: rooms}
	h.srv = New(Params{Config: cfg, Secret: []byte(testSecret), ServerID: "s1", Rooms: h.rooms,
		Metrics: NewMetrics(prometheus.NewRegistry()), CallTimeout: time.Second})
	hs := httptest.NewServer(http.HandlerFunc(h.srv.ServeRTC))
	t.Cleanup(func() {
		h.srv.CloseAll()
		hs.Close()
	})
	h.url = hs.URL
	return h
}

func (h *server) token(room, identity string, publish bool) string {
	tok, err := auth.Sign([]byte(testSecret), auth.Grant{Room: room, Identity: identity, Publish: publish, Expires: time.Now().Add(time.Hour)})
	require.NoError(h.t, err)
	return tok
}

func (h *server) rawWS(t *testing.T, from, room, identity string, publish bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return signaltest.Dial(t, h.url, from, h.token(room, identity, publish))
}

func readError(t *testing.T, ws *websocket.Conn) (wire.Error, error) {
	return signaltest.ReadError(t, ws)
}

func closedWith(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	return signaltest.ClosedWith(t, ws)
}

func limited(h *server, limit string) float64 {
	return testutil.ToFloat64(h.srv.metrics.Limited(limit))
}
