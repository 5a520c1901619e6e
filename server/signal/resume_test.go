package signal

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/testenv"
	"github.com/voicectl/voicectl/server/wire"
)

// recRooms is fakeRooms that sends joined as the host does, and records
// the sessions, leaves and ICE restarts.
type recRooms struct {
	fakeRooms
	mu       sync.Mutex
	sessions map[string]roomhost.Session
	left     []string
	timedOut []string
	restarts []string
	// muteGate, when set, holds every mute until it closes.
	muteGate chan struct{}
}

func (r *recRooms) Mute(string, bool) error {
	if r.muteGate != nil {
		<-r.muteGate
	}
	return r.err
}

func (r *recRooms) Admit(req roomhost.JoinRequest) (roomhost.Admission, error) {
	id := "PA_" + req.Identity
	r.mu.Lock()
	r.sessions[id] = req.Session
	r.mu.Unlock()
	req.Session.Send(wire.Joined{Envelope: wire.Envelope{Type: wire.TypeJoined}, Room: req.Room, PeerID: id, Peers: []wire.PeerInfo{}})
	return roomhost.Admission{PeerID: id}, nil
}

func (r *recRooms) Leave(peerID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.left = append(r.left, peerID)
}

// TimedOut records a peer whose resume window passed (its webhook reason).
func (r *recRooms) TimedOut(peerID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timedOut = append(r.timedOut, peerID)
}

func (r *recRooms) RestartICE(_ context.Context, peerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restarts = append(r.restarts, peerID)
	return r.err
}

func (r *recRooms) session(id string) roomhost.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[id]
}

func (r *recRooms) leaves() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.left...)
}

func startResumeServer(t *testing.T, window time.Duration, rooms *recRooms) *server {
	t.Helper()
	cfg := testConfig()
	cfg.ResumeWindow = window
	return startResumeServerWith(t, cfg, rooms)
}

func startResumeServerWith(t *testing.T, cfg config.Signal, rooms *recRooms) *server {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	if rooms.sessions == nil {
		rooms.sessions = map[string]roomhost.Session{}
	}
	h := &server{t: t, rooms: &rooms.fakeRooms}
	h.srv = New(Params{Config: cfg, Secret: []byte(testSecret), ServerID: "s1", Rooms: rooms,
		Metrics: NewMetrics(prometheus.NewRegistry()), CallTimeout: time.Second})
	hs := httptest.NewServer(http.HandlerFunc(h.srv.ServeRTC))
	t.Cleanup(func() {
		h.srv.CloseAll()
		hs.Close()
	})
	h.url = hs.URL
	return h
}

// dialResume opens a socket to resume: ?resume=1 and no join token.
func dialResume(t *testing.T, h *server) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, strings.Replace(h.url, "http", "ws", 1)+"/v1/rtc?resume=1", nil)
	if ws != nil {
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

func readMsg(t *testing.T, ws *websocket.Conn) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	require.NoError(t, err)
	m, err := wire.ParseServer(b)
	require.NoError(t, err, "%s", b)
	return m
}

func seqOf(m any) uint64 { return m.(interface{ Head() *wire.Envelope }).Head().Seq }

// joinNumbered joins as identity and sends one numbered ping (seq 1), so
// the server knows the client can resume; it returns the socket, the
// resume token and the server side of the session.
func joinNumbered(t *testing.T, h *server, rooms *recRooms, identity string) (*websocket.Conn, string, *session) {
	t.Helper()
	ws, _, err := h.rawWS(t, "127.0.0.1", "r", identity, false)
	require.NoError(t, err)
	write(t, ws, `{"type":"join"}`)
	j, ok := readMsg(t, ws).(*wire.Joined)
	require.True(t, ok)
	require.Zero(t, j.Seq, "joined itself is not numbered")
	require.True(t, strings.HasPrefix(j.ResumeToken, tokenPrefix), j.ResumeToken)
	require.Greater(t, len(j.ResumeToken), 20, "128 random bits")
	write(t, ws, `{"type":"ping","id":"p1","seq":1}`)
	pong := readMsg(t, ws).(*wire.Envelope)
	require.Equal(t, wire.Envelope{Type: wire.TypePong, ID: "p1", Seq: 1}, *pong)
	return ws, j.ResumeToken, rooms.session("PA_" + identity).(*session)
}

func peerLeft(id string) wire.PeerLeft {
	return wire.PeerLeft{Envelope: wire.Envelope{Type: wire.TypePeerLeft}, PeerID: id}
}

// waitDetached waits until the server saw the socket drop.
func waitDetached(t *testing.T, s *session) {
	t.Helper()
	require.Eventually(t, func() bool { return s.current() == nil }, 5*time.Second, 5*time.Millisecond)
}

// TestResumeDeliversWhatWasMissedOnceInOrder: the socket drops mid-call
// (no close frame, no leave); what the server sends while it is away, and
// what the client had not got before, arrive once each, in order, on the
// resumed socket; the client's repeats are served once; the peer never left.
func TestResumeDeliversWhatWasMissedOnceInOrder(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, 10*time.Second, rooms)
	ws, tok, s := joinNumbered(t, h, rooms, "a")
	s.Send(peerLeft("x2")) // seq 2: sent, but the client will say it did not get it
	require.Equal(t, uint64(2), seqOf(readMsg(t, ws)))

	require.NoError(t, ws.CloseNow()) // the TCP connection dies: no close frame
	waitDetached(t, s)
	for _, id := range []string{"x3", "x4", "x5"} {
		s.Send(peerLeft(id))
	}

	ws2, _, err := dialResume(t, h)
	require.NoError(t, err)
	write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, tok))
	r, ok := readMsg(t, ws2).(*wire.Resumed)
	require.True(t, ok)
	require.Equal(t, wire.Resumed{Envelope: wire.Envelope{Type: wire.TypeResumed}, PeerID: "PA_a", LastSeq: 1}, *r)
	for i, id := range []string{"x2", "x3", "x4", "x5"} {
		m := readMsg(t, ws2).(*wire.PeerLeft)
		require.Equal(t, uint64(i+2), m.Seq)
		require.Equal(t, id, m.PeerID)
	}
	// The client re-sends its ping 1 (the server had it: not served again)
	// and goes on with 2: one pong, numbered on from 5.
	write(t, ws2, `{"type":"ping","id":"p1","seq":1}`)
	write(t, ws2, `{"type":"ping","id":"p2","seq":2}`)
	pong := readMsg(t, ws2).(*wire.Envelope)
	require.Equal(t, wire.Envelope{Type: wire.TypePong, ID: "p2", Seq: 6}, *pong)
	s.Send(peerLeft("x7"))
	require.Equal(t, uint64(7), seqOf(readMsg(t, ws2)))
	require.Empty(t, rooms.leaves(), "the peer never left")
	require.Equal(t, 1.0, testutil.ToFloat64(h.srv.metrics.Resumes(ResumeDetached)))
	require.Equal(t, 1.0, testutil.ToFloat64(h.srv.metrics.Resumes(ResumeResumed)))

	write(t, ws2, `{"type":"leave","seq":3}`)
	require.Equal(t, websocket.StatusNormalClosure, closedWith(t, ws2))
	require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"PA_a"}, rooms.leaves())
}

// TestResumeTakesOverASocketStillOpen: a client that sees its socket dead
// before the server does resumes at once; the old socket is closed.
func TestResumeTakesOverASocketStillOpen(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, 10*time.Second, rooms)
	ws, tok, s := joinNumbered(t, h, rooms, "a")
	ws2, _, err := dialResume(t, h)
	require.NoError(t, err)
	write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, tok))
	require.IsType(t, &wire.Resumed{}, readMsg(t, ws2))
	require.Equal(t, websocket.StatusNormalClosure, closedWith(t, ws))
	s.Send(peerLeft("x"))
	require.Equal(t, uint64(2), seqOf(readMsg(t, ws2)))
	require.Empty(t, rooms.leaves())
}

// TestResumeWithABadTokenFails: unknown, forged or used-up tokens get
// resume_failed (fatal), wrong ones are bounded per address, and a socket
// opened to resume takes nothing but resume.
func TestResumeWithABadTokenFails(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, 10*time.Second, rooms)
	// The production bound (2 a second, a burst of 10) with no refill to
	// speak of, so that a slow machine cannot outpace the test.
	h.srv.resumeAttempts = auth.NewAttempts(0.001, wire.KeyAttemptsBurst)
	_, tok, _ := joinNumbered(t, h, rooms, "a")

	ws, _, err := dialResume(t, h)
	require.NoError(t, err)
	write(t, ws, `{"type":"join"}`)
	e, err := readError(t, ws)
	require.NoError(t, err)
	require.Equal(t, wire.CodeUnauthorized, e.Code, "no join without a join token")
	require.True(t, e.Fatal)

	for i := 0; ; i++ {
		ws, resp, err := dialResume(t, h)
		if err != nil {
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "wrong tokens are bounded per address")
			require.Equal(t, 1.0, limited(h, LimitResumeAttempts))
			break
		}
		require.Less(t, i, wire.KeyAttemptsBurst+1, "never refused")
		forged := tok[:len(tok)-2] + "xx"
		write(t, ws, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, forged))
		e, err := readError(t, ws)
		require.NoError(t, err)
		require.Equal(t, wire.CodeResumeFailed, e.Code)
		require.True(t, e.Fatal)
		require.Equal(t, websocket.StatusPolicyViolation, closedWith(t, ws))
	}
	require.Empty(t, rooms.leaves(), "a wrong token touches no session")
	require.Positive(t, testutil.ToFloat64(h.srv.metrics.Resumes(ResumeFailed)))
}

// TestResumeWindowExpiryEndsThePeer: a detached session whose window
// passes leaves as a dropped socket did before; its token is void then.
func TestResumeWindowExpiryEndsThePeer(t *testing.T) {
	rooms := &recRooms{}
	const window = time.Second
	h := startResumeServer(t, window, rooms)
	ws, tok, s := joinNumbered(t, h, rooms, "a")
	require.NoError(t, ws.CloseNow())
	waitDetached(t, s)
	seen := time.Now()
	left := rooms.leaves()
	if time.Since(seen) < window/2 { // a test descheduled for the whole window proves nothing here
		require.Empty(t, left, "kept for the window")
	}
	require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"PA_a"}, rooms.leaves())
	require.Equal(t, 1.0, testutil.ToFloat64(h.srv.metrics.Resumes(ResumeExpired)))
	rooms.mu.Lock()
	require.Equal(t, []string{"PA_a"}, rooms.timedOut, "told the room host it timed out, before it left")
	rooms.mu.Unlock()

	ws2, _, err := dialResume(t, h)
	require.NoError(t, err)
	write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, tok))
	e, err := readError(t, ws2)
	require.NoError(t, err)
	require.Equal(t, wire.CodeResumeFailed, e.Code)
}

// TestDetachedSessionPastItsBufferEnds: a detached session that would
// drop a message it sent while away ends its peer at once (counted), and
// a resume then fails.
func TestDetachedSessionPastItsBufferEnds(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, time.Minute, rooms)
	ws, tok, s := joinNumbered(t, h, rooms, "a")
	require.NoError(t, ws.CloseNow())
	waitDetached(t, s)
	for i := 0; i < historySize; i++ {
		s.Send(peerLeft(fmt.Sprint("x", i)))
	}
	require.Empty(t, rooms.leaves(), "historySize messages are kept")
	s.Send(peerLeft("one more"))
	require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1.0, limited(h, LimitResumeBuffer))

	ws2, _, err := dialResume(t, h)
	require.NoError(t, err)
	write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, tok))
	e, err := readError(t, ws2)
	require.NoError(t, err)
	require.Equal(t, wire.CodeResumeFailed, e.Code)
}

// TestResumeOfMessagesNoLongerKeptFails: a client whose last_seq is older
// than what the session keeps gets resume_failed, and the peer ends.
func TestResumeOfMessagesNoLongerKeptFails(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, time.Minute, rooms)
	ws, tok, s := joinNumbered(t, h, rooms, "a")
	for i := 0; i < historySize+1; i++ {
		s.Send(peerLeft(fmt.Sprint("x", i)))
	}
	require.NoError(t, ws.CloseNow())
	waitDetached(t, s)
	ws2, _, err := dialResume(t, h)
	require.NoError(t, err)
	write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":0}`, tok))
	e, err := readError(t, ws2)
	require.NoError(t, err)
	require.Equal(t, wire.CodeResumeFailed, e.Code)
	require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1.0, limited(h, LimitResumeBuffer))
}

// TestUnnumberedClientEndsOnDrop: an old client (no seq) cannot resume;
// its dropped socket ends its peer at once, as before.
func TestUnnumberedClientEndsOnDrop(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, time.Minute, rooms)
	ws, _, err := h.rawWS(t, "127.0.0.1", "r", "old", false)
	require.NoError(t, err)
	write(t, ws, `{"type":"join"}`)
	require.IsType(t, &wire.Joined{}, readMsg(t, ws))
	write(t, ws, `{"type":"ping","id":"p"}`)
	require.IsType(t, &wire.Envelope{}, readMsg(t, ws))
	require.NoError(t, ws.CloseNow())
	require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 10*time.Millisecond)
}

// TestRestartICEAsksTheHost: restart_ice reaches Rooms.RestartICE for the
// peer; its failure is answered with the error's code, as for an answer.
func TestRestartICEAsksTheHost(t *testing.T) {
	rooms := &recRooms{}
	h := startResumeServer(t, time.Minute, rooms)
	ws, _, _ := joinNumbered(t, h, rooms, "a")
	write(t, ws, `{"type":"restart_ice","seq":2}`)
	require.Eventually(t, func() bool {
		rooms.mu.Lock()
		defer rooms.mu.Unlock()
		return len(rooms.restarts) == 1 && rooms.restarts[0] == "PA_a"
	}, 5*time.Second, 5*time.Millisecond)

	rooms2 := &recRooms{fakeRooms: fakeRooms{err: ipc.ErrWorkerDown}}
	h2 := startResumeServer(t, time.Minute, rooms2)
	ws2, _, _ := joinNumbered(t, h2, rooms2, "b")
	write(t, ws2, `{"type":"restart_ice","id":"r","seq":2}`)
	e, err := readError(t, ws2)
	require.NoError(t, err)
	require.Equal(t, wire.CodeUnavailable, e.Code)
	require.Equal(t, "r", e.ID)
	require.False(t, e.Fatal)

	ws3, _, err := h.rawWS(t, "127.0.0.1", "r", "c", false)
	require.NoError(t, err)
	write(t, ws3, `{"type":"restart_ice"}`)
	e, err = readError(t, ws3)
	require.NoError(t, err)
	require.Equal(t, wire.CodeNotJoined, e.Code)
}

// TestResumeWithinThePerAddressLimit: a dropped socket gives its place
// back, so a client at signal.max_connections_per_address resumes; and a
// socket opened with a join token may resume too (its fresh session is
// dropped).
func TestResumeWithinThePerAddressLimit(t *testing.T) {
	rooms := &recRooms{}
	cfg := testConfig()
	cfg.ResumeWindow, cfg.MaxConnectionsPerAddress = 10*time.Second, 1
	h := startResumeServerWith(t, cfg, rooms)

	ws, tok, s := joinNumbered(t, h, rooms, "a")
	require.NoError(t, ws.CloseNow())
	waitDetached(t, s)
	var ws2 *websocket.Conn
	require.Eventually(t, func() bool { // the old socket's place comes back once its handler returned
		var err error
		ws2, _, err = h.rawWS(t, "127.0.0.1", "r", "a", false)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, tok))
	r, ok := readMsg(t, ws2).(*wire.Resumed)
	require.True(t, ok)
	require.Equal(t, "PA_a", r.PeerID)
	s.Send(peerLeft("x"))
	require.Equal(t, uint64(2), seqOf(readMsg(t, ws2)))
	sessions := func() int {
		h.srv.sessMu.Lock()
		defer h.srv.sessMu.Unlock()
		return len(h.srv.sess)
	}
	// The fresh session goes just after resumed is queued.
	require.Eventually(t, func() bool { return sessions() == 1 }, 5*time.Second, 5*time.Millisecond, "the join token's fresh session was dropped")
	require.Empty(t, rooms.leaves())
}

// TestClientCloseFrameEndsThePeer: a client that closes its socket itself
// (a close frame: a page tearing its connection down to follow a move, a
// tab closing) will not resume it; its peer leaves at once, not after the
// resume window.
func TestClientCloseFrameEndsThePeer(t *testing.T) {
	for _, status := range []websocket.StatusCode{websocket.StatusNormalClosure, websocket.StatusGoingAway} {
		t.Run(fmt.Sprint(int(status)), func(t *testing.T) {
			rooms := &recRooms{}
			h := startResumeServer(t, time.Minute, rooms)
			ws, tok, _ := joinNumbered(t, h, rooms, "a")
			require.NoError(t, ws.Close(status, ""))
			require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 5*time.Millisecond, "the peer leaves now")
			require.Equal(t, []string{"PA_a"}, rooms.leaves())
			require.Zero(t, testutil.ToFloat64(h.srv.metrics.Resumes(ResumeDetached)))

			ws2, _, err := dialResume(t, h)
			require.NoError(t, err)
			write(t, ws2, fmt.Sprintf(`{"type":"resume","token":%q,"last_seq":1}`, tok))
			e, err := readError(t, ws2)
			require.NoError(t, err)
			require.Equal(t, wire.CodeResumeFailed, e.Code)
		})
	}
}

// TestLeaveBeforeAResetIsServed: a client sends leave and closes its
// socket with the server's messages unread, so its kernel resets the
// connection; the server's next write fails before its read loop got to
// the leave. The leave is still read and served: the peer leaves, it is
// not detached to wait out the resume window.
func TestLeaveBeforeAResetIsServed(t *testing.T) {
	rooms := &recRooms{muteGate: make(chan struct{})}
	h := startResumeServer(t, time.Minute, rooms)
	ws, _, s := joinNumbered(t, h, rooms, "a")
	// The read loop is held in the mute; the leave waits behind it.
	write(t, ws, `{"type":"mute","muted":true,"seq":2}`)
	write(t, ws, `{"type":"leave","seq":3}`)
	c := s.current()
	s.Send(peerLeft("unread")) // left unread: the close below resets
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, ws.CloseNow())
	require.Eventually(t, func() bool {
		s.Send(peerLeft("x"))
		select {
		case <-c.closed:
			return true
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond, "a write to the reset socket fails")
	close(rooms.muteGate)
	require.Eventually(t, func() bool { return len(rooms.leaves()) == 1 }, 5*time.Second, 5*time.Millisecond, "the leave is served")
	require.Equal(t, []string{"PA_a"}, rooms.leaves())
	require.Zero(t, testutil.ToFloat64(h.srv.metrics.Resumes(ResumeDetached)), "a client that left is not waited for")
}
