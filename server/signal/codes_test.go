package signal

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

func write(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(msg)))
}

// TestRequestErrorsAnswerTheirCodes: a failed request is answered with
// the code its error carries (wire.CodeOf), and the session goes on.
func TestRequestErrorsAnswerTheirCodes(t *testing.T) {
	const (
		answer = `{"type":"answer","id":"7","sdp":"v=0"}`
		cand   = `{"type":"candidate","id":"7","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`
		mute   = `{"type":"mute","id":"7","muted":true}`
	)
	for _, c := range []struct {
		name, msg string
		err       error
		code      wire.Code
	}{
		{"an SDP the worker refuses", answer, fmt.Errorf("answer: %w", &ipc.RemoteError{Code: ipc.CodeBadSDP, Message: "no m-line"}), wire.CodeBadSDP},
		{"a candidate the worker refuses", cand, &ipc.RemoteError{Code: ipc.CodeBadCand, Message: "tcp"}, wire.CodeBadCandidate},
		{"any other worker refusal", answer, &ipc.RemoteError{Code: ipc.CodeNotFound, Message: "no transport"}, wire.CodeInternal},
		{"a worker that is down", answer, ipc.ErrWorkerDown, wire.CodeUnavailable},
		{"an error with no code", cand, errors.New("boom"), wire.CodeInternal},
		{"a listener's mute", mute, roomhost.ErrNotProducer, wire.CodePublishNotAllowed},
		{"a mute after the peer left", mute, roomhost.ErrNotJoined, wire.CodeNotJoined},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startServerWith(t, testConfig(), &fakeRooms{err: c.err})
			ws, _, err := h.rawWS(t, "127.0.0.1", "r", "a", false)
			require.NoError(t, err)
			write(t, ws, `{"type":"join","id":"1"}`)
			write(t, ws, c.msg)
			e, err := readError(t, ws)
			require.NoError(t, err)
			require.Equal(t, c.code, e.Code, e.Message)
			require.Equal(t, "7", e.ID)
			require.False(t, e.Fatal)
			write(t, ws, `{"type":"ping","id":"8"}`)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, b, err := ws.Read(ctx)
			require.NoError(t, err, "the session goes on")
			require.Contains(t, string(b), `"pong"`)
		})
	}
}

// TestJoinErrorsAnswerTheirCodes: a refused join is answered with its
// error's code, fatally, and the connection closed with 1013 (try again
// later).
func TestJoinErrorsAnswerTheirCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code wire.Code
	}{
		{roomhost.ErrNoCapacity, wire.CodeNoCapacity},
		{fmt.Errorf("admit: %w", roomhost.ErrUnavailable), wire.CodeUnavailable},
		{roomhost.ErrRoomClosed, wire.CodeUnavailable},
		{roomhost.ErrNotOwner, wire.CodeWrongServer},
		{errors.New("boom"), wire.CodeInternal},
	} {
		t.Run(string(c.code)+" "+c.err.Error(), func(t *testing.T) {
			h := startServerWith(t, testConfig(), &fakeRooms{admitErr: c.err})
			ws, _, err := h.rawWS(t, "127.0.0.1", "r", "a", true)
			require.NoError(t, err)
			write(t, ws, `{"type":"join","id":"1"}`)
			e, err := readError(t, ws)
			require.NoError(t, err)
			require.Equal(t, c.code, e.Code, e.Message)
			require.Equal(t, "1", e.ID)
			require.True(t, e.Fatal)
			require.Equal(t, websocket.StatusTryAgainLater, closedWith(t, ws))
		})
	}
}
