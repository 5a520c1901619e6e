package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type echo struct{ events chan string }

func (e *echo) HandleRequest(_ context.Context, method string, p json.RawMessage) (any, error) {
	if method == "fail" {
		return nil, &RemoteError{Code: CodeNotFound, Message: "nope"}
	}
	var r RouterRef
	if err := json.Unmarshal(p, &r); err != nil {
		return nil, err
	}
	return r, nil
}
func (e *echo) HandleEvent(method string, _ json.RawMessage) { e.events <- method }

func pair(t *testing.T) (*Conn, *Conn, *echo) {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	log := slog.New(slog.DiscardHandler)
	eb := &echo{events: make(chan string, 4)}
	a := New(ar, aw, &echo{events: make(chan string, 4)}, log).Start()
	b := New(br, bw, eb, log).Start()
	t.Cleanup(func() {
		_ = aw.Close()
		_ = bw.Close()
		<-a.Done()
		<-b.Done()
	})
	return a, b, eb
}

func TestCallEventAndError(t *testing.T) {
	a, _, eb := pair(t)
	ctx := context.Background()
	var out RouterRef
	require.NoError(t, a.Call(ctx, "x", RouterRef{RouterID: "r1"}, &out))
	require.Equal(t, "r1", out.RouterID)

	err := a.Call(ctx, "fail", nil, nil)
	var re *RemoteError
	require.True(t, errors.As(err, &re))
	require.Equal(t, CodeNotFound, re.Code)

	require.NoError(t, a.Notify("ev", RouterRef{}))
	select {
	case m := <-eb.events:
		require.Equal(t, "ev", m)
	case <-time.After(2 * time.Second):
		t.Fatal("event not delivered")
	}
}

func TestCallFailsWhenPeerGone(t *testing.T) {
	ar, bw := io.Pipe()
	_, aw := io.Pipe()
	a := New(ar, aw, &echo{events: make(chan string, 1)}, slog.New(slog.DiscardHandler)).Start()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = bw.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The write blocks on the unread pipe until the reader side closes; close it.
	_ = aw.CloseWithError(io.ErrClosedPipe)
	err := a.Call(ctx, "x", RouterRef{}, nil)
	require.ErrorIs(t, err, ErrClosed)
	<-a.Done()
}
