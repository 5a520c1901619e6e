package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/internal/signaltest"
	"github.com/voicectl/voicectl/server/signal"
	"github.com/voicectl/voicectl/server/wire"
)

// rawWS opens a signalling WebSocket from local address from (127.0.0.x)
// without joining; refused upgrades come back as the HTTP status and body.
func (h *harness) rawWS(t *testing.T, from, room, identity string, publish bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return signaltest.Dial(t, h.url, from, h.token(room, identity, publish, time.Hour))
}

func readError(t *testing.T, ws *websocket.Conn) (wire.Error, error) {
	return signaltest.ReadError(t, ws)
}

func closedWith(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	return signaltest.ClosedWith(t, ws)
}

// limited reads voicectl_signal_limited_total{limit} from the server's
// registry, as /metrics serves it.
func limited(h *harness, limit string) float64 {
	h.t.Helper()
	mfs, err := h.c.gatherer.Gather()
	require.NoError(h.t, err)
	for _, mf := range mfs {
		if mf.GetName() != "voicectl_signal_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "limit" && l.GetValue() == limit {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	h.t.Fatalf("no voicectl_signal_limited_total{limit=%q}", limit)
	return 0
}

func TestJoinTimeouts(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.JoinTimeout = time.Second
	h := startHarness(t, cfg)

	// A connection that never joins.
	idle, _, err := h.rawWS(t, "127.0.0.1", "r", "idle", false)
	require.NoError(t, err)
	start := time.Now()
	e, err := readError(t, idle)
	require.NoError(t, err)
	require.Equal(t, wire.CodeJoinTimeout, e.Code)
	require.True(t, e.Fatal)
	require.Equal(t, websocket.StatusPolicyViolation, closedWith(t, idle))
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, 1.0, limited(h, signal.LimitJoinTimeout))

	// A publisher that joins, takes its offer and never answers: its
	// transport is given up.
	mute, _, err := h.rawWS(t, "127.0.0.1", "r", "silent", true)
	require.NoError(t, err)
	require.NoError(t, mute.Write(context.Background(), websocket.MessageText, []byte(`{"type":"join"}`)))
	e, err = readError(t, mute)
	require.NoError(t, err)
	require.Equal(t, wire.CodeJoinTimeout, e.Code)
	require.Contains(t, e.Message, "media did not connect")
	require.Equal(t, 1.0, limited(h, signal.LimitMediaTimeout))
	require.Eventually(t, func() bool { return h.load(0).Transports == 0 }, 5*time.Second, 50*time.Millisecond,
		"its transport is closed")

	// A peer whose media connects stays.
	a := h.connect("r", "ok", true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.WaitConnected(ctx))
	time.Sleep(1500 * time.Millisecond)
	select {
	case <-a.Done():
		t.Fatal("a connected peer was cut by the join timeout")
	default:
	}
}

func TestSDPAndCandidateLimits(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.MaxSDPBytes, cfg.Signal.MaxCandidates = 1024, 2
	h := startHarness(t, cfg)
	// A raw connection: a real client trickles its own candidates too.
	x, _, err := h.rawWS(t, "127.0.0.1", "r", "x", false)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, x.Write(ctx, websocket.MessageText, []byte(`{"type":"join"}`)))
	for {
		_, b, err := x.Read(ctx)
		require.NoError(t, err)
		if strings.Contains(string(b), `"joined"`) {
			break
		}
	}
	send := func(raw string) wire.Error {
		require.NoError(t, x.Write(ctx, websocket.MessageText, []byte(raw)))
		e, err := readError(t, x)
		require.NoError(t, err)
		return e
	}
	e := send(`{"type":"answer","sdp":"v=0\r\n` + strings.Repeat(`a=x\r\n`, 300) + `"}`)
	require.Equal(t, wire.CodeSDPTooLarge, e.Code, e.Message)
	require.False(t, e.Fatal)
	require.Equal(t, 1.0, limited(h, signal.LimitSDPBytes))
	cand := `{"type":"candidate","candidate":{"candidate":"candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active","sdpMid":"0"}}`
	for i := 0; i < 2; i++ {
		require.Equal(t, wire.CodeBadCandidate, send(cand).Code) // counted, then refused for being TCP
	}
	e = send(cand)
	require.Equal(t, wire.CodeTooManyCandidates, e.Code)
	require.False(t, e.Fatal)
	require.Equal(t, 1.0, limited(h, signal.LimitCandidates))
	// The session goes on.
	require.NoError(t, x.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","id":"p"}`)))
	for {
		_, b, err := x.Read(ctx)
		require.NoError(t, err)
		if strings.Contains(string(b), `"pong"`) {
			break
		}
	}
}

// TestSlowHeadersAreCut: a client that sends its request headers a byte at a
// time (slowloris) is disconnected at signal.read_header_timeout.
func TestSlowHeadersAreCut(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.ReadHeaderTimeout = 500 * time.Millisecond
	h := startHarness(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	require.NoError(t, err)
	cut := make(chan error, 1)
	go func() {
		for {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte("a")); err != nil {
				cut <- err
				return
			}
			if time.Since(start) > 10*time.Second {
				cut <- errors.New("still open")
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, rerr := io.ReadAll(conn) // until the server closes
	var ne net.Error
	require.False(t, errors.As(rerr, &ne) && ne.Timeout(), "closed by the server, not by our deadline")
	took := time.Since(start)
	require.Less(t, took, 3*time.Second)
	require.GreaterOrEqual(t, took, 400*time.Millisecond, "cut by the timeout, not refused at once: %q", got)
	require.NotContains(t, string(got), "200 OK")
}

// TestJoinBurstLeavesNoGoroutines: 300 signalling connections at once, each
// joining and leaving, leave the server's goroutines where they were.
func TestJoinBurstLeavesNoGoroutines(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.MaxConnectionsPerAddress = 0 // all 300 come from 127.0.0.1
	h := startHarness(t, cfg)
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The burst's 300 upgrades share its 20 s (alone they take about
			// a second; beside the whole test suite on two cores, over 5 s).
			ws, _, err := signaltest.DialWithin(t, h.url, "127.0.0.1", h.token("burst", fmt.Sprint("p", i), false, time.Hour), 20*time.Second)
			if err != nil {
				errs <- err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join"}`)); err != nil {
				errs <- err
				return
			}
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					errs <- err
					return
				}
				if strings.Contains(string(b), `"joined"`) {
					break
				}
			}
			errs <- ws.Close(websocket.StatusNormalClosure, "")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		rooms, err := h.admin().Rooms(context.Background())
		return err == nil && len(rooms) == 0 && runtime.NumGoroutine() <= base+10
	}, 20*time.Second, 100*time.Millisecond, "goroutines %d, at the start %d", runtime.NumGoroutine(), base)
}
