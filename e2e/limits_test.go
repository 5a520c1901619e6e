package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

// TestLimitsOfARealServer: `voicectl serve` configured through the
// environment meets a hostile client with each limit's code and counts them
// in voicectl_signal_limited_total.
func TestLimitsOfARealServer(t *testing.T) {
	t.Parallel()
	s := startServeEnv(t, []string{"VOICECTL_SIGNAL_MAX_CONNECTIONS_PER_ADDRESS=2", "VOICECTL_SIGNAL_MAX_MESSAGES_PER_SECOND=5",
		"VOICECTL_SIGNAL_JOIN_TIMEOUT=1s", "VOICECTL_SIGNAL_READ_HEADER_TIMEOUT=500ms"}, "--workers", "1")
	token := func(name string) string {
		resp, err := http.Get(s.base + "/v1/dev/token?" + url.Values{"room": {"lim"}, "identity": {name}, "publish": {"0"}}.Encode())
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct{ Token string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return body.Token
	}
	dial := func(name string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, strings.Replace(s.base, "http", "ws", 1)+"/v1/rtc",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token(name)}}})
		if ws != nil {
			t.Cleanup(func() { _ = ws.CloseNow() })
		}
		return ws, resp, err
	}
	// The first error a connection gets, and how it was closed.
	ended := func(ws *websocket.Conn) (wire.Error, websocket.StatusCode) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var first wire.Error
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				require.NoError(t, ctx.Err(), "not closed")
				return first, websocket.CloseStatus(err)
			}
			var e wire.Error
			if first.Code == "" && json.Unmarshal(b, &e) == nil && e.Type == wire.TypeError {
				first = e
			}
		}
	}

	// Two connections from this address, then 429; neither joins in time.
	a, _, err := dial("a")
	require.NoError(t, err)
	b, _, err := dial("b")
	require.NoError(t, err)
	_, resp, err := dial("c")
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	var he wire.HTTPError
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&he))
	require.Equal(t, wire.CodeTooManyConnections, he.Code)
	for _, ws := range []*websocket.Conn{a, b} {
		e, status := ended(ws)
		require.Equal(t, wire.CodeJoinTimeout, e.Code)
		require.Equal(t, websocket.StatusPolicyViolation, status)
	}

	// A flood: cut off with rate_limited.
	var f *websocket.Conn
	refusedAgain := 0 // dials refused while the timed-out ones still held their places: counted too
	require.Eventually(t, func() bool {
		f, _, err = dial("flood") // once the timed-out ones have given their places back
		if err != nil {
			refusedAgain++
		}
		return err == nil
	}, 5*time.Second, 100*time.Millisecond)
	for i := 0; i < 40; i++ {
		if f.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
			break
		}
	}
	e, status := ended(f)
	require.Equal(t, wire.CodeRateLimited, e.Code)
	require.Equal(t, websocket.StatusPolicyViolation, status)

	// Slowloris: headers a byte at a time are cut at the header timeout.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	require.NoError(t, err)
	go func() {
		for time.Since(start) < 5*time.Second {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(conn)
	require.Less(t, time.Since(start), 3*time.Second, "cut at the header timeout")
	require.NotContains(t, string(got), "200 OK")

	counted := func(limit string) float64 {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^voicectl_signal_limited_total\{limit="%s"\} (\S+)$`, limit)).FindStringSubmatch(scrape(t, s))
		require.NotNil(t, m, limit)
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, 1.0+float64(refusedAgain), counted("connections_per_address"))
	require.Equal(t, 2.0, counted("join_timeout"))
	require.Equal(t, 1.0, counted("messages_per_second"))
	require.Zero(t, counted("sdp_bytes"))
}
