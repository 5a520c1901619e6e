package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type echoReq struct{ Text string }
type echoResp struct {
	Text   string
	Server cluster.ServerID
}

var echo = Method[echoReq, echoResp]{Type: "test.echo"}

func echoMux(self cluster.ServerID, calls *atomic.Int32) Handler {
	mux := NewMux(self)
	Handle(mux, echo, func(_ context.Context, _ Envelope, r echoReq) (echoResp, error) {
		calls.Add(1)
		if r.Text == "full" {
			return echoResp{}, Errorf(CodeNoCapacity, "no room")
		}
		return echoResp{Text: r.Text, Server: self}, nil
	})
	return mux.Serve
}

func TestTypedCallsThroughTheSharedQueueGoRoundRobin(t *testing.T) {
	b := NewLocal()
	defer b.Close()
	var calls atomic.Int32
	for _, id := range []cluster.ServerID{"a", "b", "c"} {
		_, err := b.Serve(RoomsQueue, echoMux(id, &calls))
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := map[cluster.ServerID]int{}
	for i := 0; i < 9; i++ {
		r, err := echo.Call(ctx, b, ToQueue(RoomsQueue), "api", "", echoReq{Text: "hi"})
		require.NoError(t, err)
		require.Equal(t, "hi", r.Text)
		got[r.Server]++
	}
	require.Equal(t, map[cluster.ServerID]int{"a": 3, "b": 3, "c": 3}, got)

	_, err := echo.Call(ctx, b, ToQueue(RoomsQueue), "api", "", echoReq{Text: "full"})
	var be *Error
	require.ErrorAs(t, err, &be)
	require.Equal(t, CodeNoCapacity, be.Code)
}

func TestARequestWaitsInTheQueueUntilAConsumerComes(t *testing.T) {
	b := NewLocal()
	defer b.Close()
	var calls atomic.Int32
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := echo.Call(ctx, b, ToQueue(RoomsQueue), "api", "", echoReq{Text: "x"})
		done <- err
	}()
	require.Never(t, func() bool { return len(done) > 0 }, 100*time.Millisecond, 10*time.Millisecond)
	_, err := b.Serve(RoomsQueue, echoMux("a", &calls))
	require.NoError(t, err)
	require.NoError(t, <-done)

	// Nobody consumes: the caller's deadline answers.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = echo.Call(ctx, b, ToQueue("voice.nobody"), "api", "", echoReq{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestMuxRefusesWhatIsNotForIt(t *testing.T) {
	var calls atomic.Int32
	h := echoMux("a", &calls)
	ctx := context.Background()
	_, err := h(ctx, Envelope{Type: echo.Type, To: "b", Body: []byte(`{}`)})
	require.Equal(t, CodeWrongServer, AsError(err).Code)
	_, err = h(ctx, Envelope{Type: "no.such"})
	require.Equal(t, CodeUnknownType, AsError(err).Code)
	_, err = h(ctx, Envelope{Type: echo.Type, Body: []byte(`{"Text": 5}`)})
	require.Equal(t, CodeBadRequest, AsError(err).Code)
	_, err = h(ctx, Envelope{Type: echo.Type, Deadline: time.Now().Add(-time.Second).UnixMilli(), Body: []byte(`{}`)})
	require.Equal(t, CodeBadRequest, AsError(err).Code)
	require.Zero(t, calls.Load(), "none of them reached the handler")
}

func TestDedupDoesTheWorkOnceAndAnswersAgain(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	d := NewDedup(func(context.Context, Envelope) (any, error) {
		calls.Add(1)
		<-release
		return "room-1", nil
	}, time.Minute)
	var wg sync.WaitGroup
	replies := make(chan any, 3)
	for i := 0; i < 3; i++ { // the request and two redeliveries, concurrently
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := d.Serve(context.Background(), Envelope{Type: "x", RequestID: "req-1"})
			require.NoError(t, err)
			replies <- r
		}()
	}
	require.Eventually(t, func() bool { return calls.Load() == 1 }, time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	close(replies)
	for r := range replies {
		require.Equal(t, "room-1", r)
	}
	r, err := d.Serve(context.Background(), Envelope{Type: "x", RequestID: "req-1"})
	require.NoError(t, err)
	require.Equal(t, "room-1", r)
	require.Equal(t, int32(1), calls.Load(), "the work was done once")
	_, err = d.Serve(context.Background(), Envelope{Type: "x", RequestID: "req-2"})
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load())
}

func TestEventsReachMatchingSubscribers(t *testing.T) {
	b := NewLocal()
	defer b.Close()
	var got []string
	var mu sync.Mutex
	sub, err := b.Subscribe("heartbeat.*", func(e Envelope) { mu.Lock(); got = append(got, string(e.From)); mu.Unlock() })
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, b.Publish(ctx, "heartbeat.a", Envelope{Type: "heartbeat", From: "a"}))
	require.NoError(t, b.Publish(ctx, "room.closed", Envelope{Type: "room.closed", From: "b"}))
	require.NoError(t, sub.Cancel())
	require.NoError(t, b.Publish(ctx, "heartbeat.c", Envelope{Type: "heartbeat", From: "c"}))
	require.Equal(t, []string{"a"}, got)
}

func TestTopicMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, key string
		want         bool
	}{
		{"heartbeat.*", "heartbeat.a", true},
		{"heartbeat.*", "heartbeat.a.b", false},
		{"heartbeat.#", "heartbeat.a.b", true},
		{"heartbeat.#", "heartbeat", true},
		{"#", "anything.at.all", true},
		{"*.closed", "room.closed", true},
		{"room.closed", "room.opened", false},
	} {
		require.Equal(t, tt.want, TopicMatch(tt.pattern, tt.key), "%s ~ %s", tt.pattern, tt.key)
	}
}
