package control

import (
	"context"
	"encoding/json"
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
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

// rawWS opens a signalling WebSocket from local address from (127.0.0.x)
// without joining; refused upgrades come back as the HTTP status and body.
func (h *harness) rawWS(t *testing.T, from, room, identity string, publish bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hdr := http.Header{"Authorization": {"Bearer " + h.token(room, identity, publish, time.Hour)}}
	ws, resp, err := websocket.Dial(ctx, strings.Replace(h.url, "http", "ws", 1)+"/v1/rtc", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if ws != nil {
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

// readError reads messages until an error arrives (or the read fails).
func readError(t *testing.T, ws *websocket.Conn) (wire.Error, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return wire.Error{}, err
		}
		var e wire.Error
		if json.Unmarshal(b, &e) == nil && e.Type == wire.TypeError {
			return e, nil
		}
	}
}

// closedWith reads until the server closes and returns its status.
func closedWith(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			require.NoError(t, ctx.Err(), "the server did not close the connection")
			return websocket.CloseStatus(err)
		}
	}
}

func limited(h *harness, limit string) float64 {
	return testutil.ToFloat64(h.c.metrics.limited.WithLabelValues(limit))
}

func TestConnectionLimitsPerServerAndPerAddress(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.MaxConnections, cfg.Signal.MaxConnectionsPerAddress = 4, 2
	h := startHarness(t, cfg)
	require.Zero(t, limited(h, limitConnectionsPerAddr), "exported at 0 from the start")

	var held []*websocket.Conn
	for i := 0; i < 2; i++ {
		ws, _, err := h.rawWS(t, "127.0.0.1", "r", fmt.Sprint("a", i), false)
		require.NoError(t, err)
		held = append(held, ws)
	}
	_, resp, err := h.rawWS(t, "127.0.0.1", "r", "a2", false)
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	var body wire.HTTPError
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, wire.CodeTooManyConnections, body.Code)
	require.Contains(t, body.Message, "signal.max_connections_per_address")
	require.Equal(t, 1.0, limited(h, limitConnectionsPerAddr))

	// Other addresses still get in, up to the server's bound.
	for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
		_, _, err := h.rawWS(t, from, "r", "b"+from, false)
		require.NoError(t, err)
	}
	_, resp, err = h.rawWS(t, "127.0.0.4", "r", "c", false)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, wire.CodeTooManyConnections, body.Code)
	require.Equal(t, 1.0, limited(h, limitConnections))

	// A closed connection gives its place back.
	require.NoError(t, held[0].Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		ws, _, err := h.rawWS(t, "127.0.0.1", "r", "a3", false)
		if err == nil {
			_ = ws.CloseNow()
		}
		return err == nil
	}, 5*time.Second, 50*time.Millisecond)
}

func TestMessageFloodIsCutOff(t *testing.T) {
	cfg := testConfig(1)
	cfg.Signal.MaxMessagesPerSecond = 5
	h := startHarness(t, cfg)
	ws, _, err := h.rawWS(t, "127.0.0.1", "r", "flood", false)
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		if ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
			break
		}
	}
	e, err := readError(t, ws)
	require.NoError(t, err)
	require.Equal(t, wire.CodeRateLimited, e.Code)
	require.True(t, e.Fatal)
	require.Contains(t, e.Message, "signal.max_messages_per_second")
	require.Equal(t, websocket.StatusPolicyViolation, closedWith(t, ws))
	require.Equal(t, 1.0, limited(h, limitMessagesPerSecond))
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
	require.Equal(t, 1.0, limited(h, limitJoinTimeout))

	// A publisher that joins, takes its offer and never answers: its
	// transport is given up.
	mute, _, err := h.rawWS(t, "127.0.0.1", "r", "silent", true)
	require.NoError(t, err)
	require.NoError(t, mute.Write(context.Background(), websocket.MessageText, []byte(`{"type":"join"}`)))
	e, err = readError(t, mute)
	require.NoError(t, err)
	require.Equal(t, wire.CodeJoinTimeout, e.Code)
	require.Contains(t, e.Message, "media did not connect")
	require.Equal(t, 1.0, limited(h, limitMediaTimeout))
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
	require.Equal(t, 1.0, limited(h, limitSDPBytes))
	cand := `{"type":"candidate","candidate":{"candidate":"candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active","sdpMid":"0"}}`
	for i := 0; i < 2; i++ {
		require.Equal(t, wire.CodeBadCandidate, send(cand).Code) // counted, then refused for being TCP
	}
	e = send(cand)
	require.Equal(t, wire.CodeTooManyCandidates, e.Code)
	require.False(t, e.Fatal)
	require.Equal(t, 1.0, limited(h, limitCandidates))
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

// TestSlowReaderIsClosedWith1008: a client that stops reading while the
// server has much to tell it is closed, and once it reads again it gets what
// was queued and then the close frame with 1008 (policy violation), not a
// reset.
func TestSlowReaderIsClosedWith1008(t *testing.T) {
	h := startHarness(t, testConfig(1))
	ws, _, err := h.rawWS(t, "127.0.0.1", "r", "slow", false)
	require.NoError(t, err)
	var s *session
	require.Eventually(t, func() bool {
		h.c.sessMu.Lock()
		defer h.c.sessMu.Unlock()
		for x := range h.c.sess {
			if x.grant.Identity == "slow" {
				s = x
			}
		}
		return s != nil
	}, 5*time.Second, 10*time.Millisecond)
	// 40 MB, far more than the loopback socket buffers and the outbox hold.
	pad := strings.Repeat("x", 2048)
	for i := 0; i < 20000 && !s.overflowed.Load(); i++ {
		s.send(wire.Error{Envelope: wire.Envelope{Type: wire.TypeError}, Code: wire.CodeInternal, Message: pad})
	}
	require.True(t, s.overflowed.Load(), "the outbox overflowed")
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			require.NoError(t, ctx.Err())
			require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "closed with 1008 after %d messages: %v", n, err)
			break
		}
		n++
	}
	require.Greater(t, n, outboxSize, "what was queued was delivered first")
	require.Equal(t, 1.0, limited(h, limitSlowReader))
}

// TestHugeFrameClosesWith1009: a 5 MB message is refused with
// message_too_large and the connection closed with 1009 (RFC 6455 §7.4.1),
// without the server reading it whole.
func TestHugeFrameClosesWith1009(t *testing.T) {
	h := startHarness(t, testConfig(1))
	ws, _, err := h.rawWS(t, "127.0.0.1", "r", "huge", false)
	require.NoError(t, err)
	ws.SetReadLimit(1 << 20)
	go func() {
		_ = ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping","pad":"`+strings.Repeat("x", 5<<20)+`"}`))
	}()
	e, err := readError(t, ws)
	require.NoError(t, err)
	require.Equal(t, wire.CodeMessageTooLarge, e.Code)
	require.True(t, e.Fatal)
	require.Equal(t, websocket.StatusMessageTooBig, closedWith(t, ws))
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
			ws, _, err := h.rawWS(t, "127.0.0.1", "burst", fmt.Sprint("p", i), false)
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
