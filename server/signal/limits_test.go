package signal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

func TestConnectionLimitsPerServerAndPerAddress(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections, cfg.MaxConnectionsPerAddress = 4, 2
	h := startServer(t, cfg)
	require.Zero(t, limited(h, LimitConnectionsPerAddr), "exported at 0 from the start")

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
	require.Equal(t, 1.0, limited(h, LimitConnectionsPerAddr))

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
	require.Equal(t, 1.0, limited(h, LimitConnections))

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
	cfg := testConfig()
	cfg.MaxMessagesPerSecond = 5
	h := startServer(t, cfg)
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
	require.Equal(t, 1.0, limited(h, LimitMessagesPerSecond))
}

// TestSlowReaderIsClosedWith1008: a client that stops reading while the
// server has much to tell it is closed, and once it reads again it gets what
// was queued and then the close frame with 1008 (policy violation), not a
// reset.
func TestSlowReaderIsClosedWith1008(t *testing.T) {
	h := startServer(t, testConfig())
	ws, _, err := h.rawWS(t, "127.0.0.1", "r", "slow", false)
	require.NoError(t, err)
	var s *session
	require.Eventually(t, func() bool {
		h.srv.sessMu.Lock()
		defer h.srv.sessMu.Unlock()
		for x := range h.srv.sess {
			if x.grant.Identity == "slow" {
				s = x
			}
		}
		return s != nil
	}, 5*time.Second, 10*time.Millisecond)
	// 40 MB, far more than the loopback socket buffers and the outbox hold.
	pad := strings.Repeat("x", 2048)
	for i := 0; i < 20000 && !s.current().overflowed.Load(); i++ {
		s.send(wire.Error{Envelope: wire.Envelope{Type: wire.TypeError}, Code: wire.CodeInternal, Message: pad})
	}
	require.True(t, s.current().overflowed.Load(), "the outbox overflowed")
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
	require.Equal(t, 1.0, limited(h, LimitSlowReader))
}

// TestHugeFrameClosesWith1009: a 5 MB message is refused with
// message_too_large and the connection closed with 1009 (RFC 6455 §7.4.1),
// without the server reading it whole.
func TestHugeFrameClosesWith1009(t *testing.T) {
	h := startServer(t, testConfig())
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
