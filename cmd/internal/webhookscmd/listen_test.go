package webhookscmd

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestListenForwardsGenuineEvents runs the listener on a real socket with
// --forward to an app that fails once: the sender gets the app's 500 (and
// would retry), then the event is forwarded with its signature and printed.
func TestListenForwardsGenuineEvents(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var calls atomic.Int32
	got := make(chan http.Header, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		got <- r.Header.Clone()
	}))
	defer app.Close()

	var out, errOut syncBuffer
	ready := make(chan net.Addr, 1)
	o := &ListenOptions{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, Addr: "127.0.0.1:0", Forward: app.URL,
		Tolerance: webhook.DefaultTolerance, Key: func() ([]byte, error) { return []byte(testKey), nil },
		Now: time.Now, HTTPClient: func() *http.Client { return &http.Client{Timeout: 5 * time.Second} },
		Ready: func(a net.Addr) { ready <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenRun(ctx, o) }()
	addr := <-ready

	body, sig := signedEvent(t, webhook.RoomFinished, "standup", time.Now())
	send := func() int {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr.String()+"/", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(webhook.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusInternalServerError, send(), "the app's failure goes back to the sender")
	require.Empty(t, out.String(), "not printed before it was taken")
	require.Equal(t, http.StatusNoContent, send())
	h := <-got
	require.Equal(t, sig, h.Get(webhook.SignatureHeader), "forwarded with its signature, for the app to check")
	require.Contains(t, out.String(), `"type":"room_finished"`)
	require.Contains(t, errOut.String(), "answered 500")

	cancel()
	require.NoError(t, <-done)
	http.DefaultClient.CloseIdleConnections()
}
