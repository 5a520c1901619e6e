// Package signaltest holds the raw WebSocket helpers that the signalling
// tests (server/signal's, and control's against a whole server) share.
package signaltest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

// Dial opens a signalling WebSocket to baseURL's /v1/rtc from local
// address from (127.0.0.x) with token, without joining; refused upgrades
// come back as the HTTP status and body.
func Dial(t *testing.T, baseURL, from, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return DialWithin(t, baseURL, from, token, 5*time.Second)
}

// DialWithin is Dial with its own bound on the upgrade: a burst of
// hundreds of upgrades at once, on a loaded machine, may need more than
// one upgrade alone.
func DialWithin(t *testing.T, baseURL, from, token string, within time.Duration) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	ws, resp, err := websocket.Dial(ctx, strings.Replace(baseURL, "http", "ws", 1)+"/v1/rtc", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if ws != nil {
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

// ReadError reads messages until an error arrives (or the read fails).
func ReadError(t *testing.T, ws *websocket.Conn) (wire.Error, error) {
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

// ClosedWith reads until the server closes and returns its status.
func ClosedWith(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
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
