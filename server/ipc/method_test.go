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

	"github.com/voicectl/voicectl/server/cluster"
)

// muxHandler serves a Mux, as a worker does.
type muxHandler struct{ mux *Mux }

func (h muxHandler) HandleRequest(ctx context.Context, m string, p json.RawMessage) (any, error) {
	return h.mux.Serve(ctx, m, p)
}
func (muxHandler) HandleEvent(string, json.RawMessage) {}

func muxPair(t *testing.T, mux *Mux) *Conn {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	log := slog.New(slog.DiscardHandler)
	a := New(ar, aw, &echo{events: make(chan string, 4)}, log).Start()
	b := New(br, bw, muxHandler{mux}, log).Start()
	t.Cleanup(func() {
		_ = aw.Close()
		_ = bw.Close()
		<-a.Done()
		<-b.Done()
	})
	return a
}

func TestTypedMethodsRoundTrip(t *testing.T) {
	mux := NewMux()
	Handle(mux, CallPipeCreate, func(_ context.Context, req PipeCreate) (PipeCreated, error) {
		return PipeCreated{LocalAddr: req.ListenIP + ":4000"}, nil
	})
	Handle(mux, CallRouterClose, func(_ context.Context, req RouterRef) (Empty, error) {
		return Empty{}, &RemoteError{Code: CodeNotFound, Message: req.RouterID}
	})
	c := NewClient(cluster.LocalWorker(cluster.Local, 3), muxPair(t, mux))
	require.Equal(t, 3, c.Ref().Index)
	ctx := context.Background()
	res, err := c.PipeCreate(ctx, PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4000", res.LocalAddr)

	var re *RemoteError
	require.ErrorAs(t, c.CloseRouter(ctx, RouterRef{RouterID: "r9"}), &re)
	require.Equal(t, CodeNotFound, re.Code)
	require.Equal(t, "r9", re.Message)

	require.ErrorAs(t, c.CreateRouter(ctx, RouterCreate{RouterID: "x"}), &re)
	require.Equal(t, CodeUnknownMethod, re.Code)
}

func TestMalformedRequestIsABadRequest(t *testing.T) {
	mux := NewMux()
	Handle(mux, CallRouterCreate, func(context.Context, RouterCreate) (Empty, error) { return Empty{}, nil })
	_, err := mux.Serve(context.Background(), MethodRouterCreate, json.RawMessage(`{"router_id": 7}`))
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, CodeBadRequest, re.Code)
}

func TestCallerDeadlineReachesTheWorker(t *testing.T) {
	mux := NewMux()
	gotDeadline := make(chan time.Duration, 1)
	Handle(mux, CallRouterCreate, func(ctx context.Context, _ RouterCreate) (Empty, error) {
		dl, ok := ctx.Deadline()
		require.True(t, ok, "the worker's context has the caller's deadline")
		gotDeadline <- time.Until(dl)
		return Empty{}, nil
	})
	c := NewClient(cluster.WorkerRef{}, muxPair(t, mux))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, c.CreateRouter(ctx, RouterCreate{RouterID: "r"}))
	left := <-gotDeadline
	require.Greater(t, left, 2*time.Second)
	require.LessOrEqual(t, left, 3*time.Second)
}

func TestWorkerStopsWorkWhoseCallerGaveUp(t *testing.T) {
	mux := NewMux()
	started := make(chan struct{})
	stopped := make(chan error, 1)
	Handle(mux, CallTransportCreate, func(ctx context.Context, _ TransportCreate) (Empty, error) {
		close(started)
		select {
		case <-ctx.Done():
			stopped <- ctx.Err()
		case <-time.After(10 * time.Second):
			stopped <- nil
		}
		return Empty{}, Cancelled(ctx.Err())
	})
	c := NewClient(cluster.WorkerRef{}, muxPair(t, mux))

	// A caller that cancels (no deadline at all): the cancel frame stops the work.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.CreateTransport(ctx, TransportCreate{TransportID: "t"}) }()
	<-started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.Canceled, "the worker's handler saw its caller give up")
	case <-time.After(2 * time.Second):
		t.Fatal("the worker kept working for a caller that gave up")
	}
}

func TestExpiredRequestIsNotServed(t *testing.T) {
	mux := NewMux()
	ran := false
	Handle(mux, CallRouterCreate, func(context.Context, RouterCreate) (Empty, error) { ran = true; return Empty{}, nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := mux.Serve(ctx, MethodRouterCreate, json.RawMessage(`{"router_id":"r"}`))
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, CodeCancelled, re.Code)
	require.False(t, ran)
}

func TestDecodeEvent(t *testing.T) {
	ev, err := DecodeEvent(EventProducerClosed, json.RawMessage(`{"router_id":"r","transport_id":"t1","producer_id":"p"}`))
	require.NoError(t, err)
	pc, ok := ev.(ProducerClosedEvent)
	require.True(t, ok)
	require.Equal(t, "p", pc.ProducerID)
	require.Equal(t, "t1", ev.Key())

	ev, err = DecodeEvent(EventSpeakers, json.RawMessage(`{"router_id":"r2","speakers":[]}`))
	require.NoError(t, err)
	require.Equal(t, "r2", ev.Key())

	_, err = DecodeEvent("bogus", nil)
	require.Error(t, err)
	_, err = DecodeEvent(EventOffer, json.RawMessage(`{"sdp": 1}`))
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrClosed))
}

func TestReleasesAreTheMethodsThatGiveBack(t *testing.T) {
	for _, m := range []string{MethodRouterClose, MethodTransportClose, MethodConsumerClose, MethodPipeUnconsume, MethodPipeUnproduce, MethodPipeClose} {
		require.True(t, Releases(m), m)
	}
	for _, m := range []string{MethodInit, MethodLoad, MethodRouterCreate, MethodTransportCreate, MethodTransportAnswer, MethodTransportCand,
		MethodTransportICE, MethodConsumerCreate, MethodProducerPause, MethodPipeCreate, MethodPipeConnect, MethodPipeConsume, MethodPipeProduce, "no.such"} {
		require.False(t, Releases(m), m)
	}
}
