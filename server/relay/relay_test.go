package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lender lends owner "A" the router "RT" and transport "T" and nothing else,
// and moves the pipe ends it is asked for to its own address, as
// roomhost.Lender does.
type lender struct {
	mu      sync.Mutex
	checked []ipc.Request
	done    []ipc.Request
}

func (l *lender) Check(from cluster.ServerID, req ipc.Request) (ipc.Request, error) {
	l.mu.Lock()
	l.checked = append(l.checked, req)
	l.mu.Unlock()
	refused := &ipc.RemoteError{Code: ipc.CodeNotFound, Message: fmt.Sprintf("%s is not relayed here for %s", req.Method(), from)}
	if from != "A" {
		return ipc.Request{}, refused
	}
	switch p := req.Params().(type) {
	case ipc.PipeCreate:
		if p.RouterID != "RT" {
			return ipc.Request{}, refused
		}
		p.ListenIP = "127.0.0.12"
		return ipc.NewRequest(ipc.CallPipeCreate, p), nil
	case ipc.TransportRef:
		if p.TransportID != "T" {
			return ipc.Request{}, refused
		}
	case ipc.ConsumerRef:
		if p.TransportID != "T" {
			return ipc.Request{}, refused
		}
	default:
		return ipc.Request{}, &ipc.RemoteError{Code: ipc.CodeUnknownMethod, Message: req.Method() + " is not served to relays"}
	}
	return req, nil
}

func (l *lender) Done(_ cluster.ServerID, req ipc.Request) {
	l.mu.Lock()
	l.done = append(l.done, req)
	l.mu.Unlock()
}

func (l *lender) seen() (checked, done []ipc.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ipc.Request(nil), l.checked...), append([]ipc.Request(nil), l.done...)
}

// worker is a relay server's worker: its requests cross as JSON, as they do
// over a worker's stdio.
type worker struct {
	mux *ipc.Mux

	mu    sync.Mutex
	calls []string
	// blocked gets the context of each consume, which waits for its end.
	blocked chan context.Context
}

func newWorker() *worker {
	w := &worker{mux: ipc.NewMux(), blocked: make(chan context.Context, 1)}
	ipc.Handle(w.mux, ipc.CallPipeCreate, func(_ context.Context, r ipc.PipeCreate) (ipc.PipeCreated, error) {
		return ipc.PipeCreated{LocalAddr: r.ListenIP + ":4000"}, nil
	})
	ipc.Handle(w.mux, ipc.CallTransportClose, func(_ context.Context, r ipc.TransportRef) (ipc.Empty, error) {
		return ipc.Empty{}, &ipc.RemoteError{Code: ipc.CodeNotFound, Message: "transport " + r.TransportID}
	})
	ipc.Handle(w.mux, ipc.CallConsumerCreate, func(ctx context.Context, r ipc.ConsumerRef) (ipc.Empty, error) {
		if r.ProducerID == "down" {
			return ipc.Empty{}, ipc.ErrWorkerDown
		}
		w.blocked <- ctx
		<-ctx.Done()
		return ipc.Empty{}, ipc.Cancelled(ctx.Err())
	})
	return w
}

func (w *worker) Call(ctx context.Context, method string, params, out any) error {
	w.mu.Lock()
	w.calls = append(w.calls, method)
	w.mu.Unlock()
	raw, err := json.Marshal(params)
	if err != nil {
		return err
	}
	res, err := w.mux.Serve(ctx, method, raw)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (w *worker) served() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// cluster is an owner "A" and a relay server "B" with one worker, on the
// in-process bus; B serves worker calls as its agent does.
type testCluster struct {
	bus    *bus.Local
	lender *lender
	worker *worker
}

func newCluster(t *testing.T) *testCluster {
	c := &testCluster{bus: bus.NewLocal(), lender: &lender{}, worker: newWorker()}
	srv := relay.Server{Self: "B", Lender: c.lender, Worker: func(i int) ipc.Caller {
		if i != 0 {
			return nil
		}
		return c.worker
	}}
	mux := bus.NewMux("B")
	bus.Handle(mux, bus.CallWorker, func(ctx context.Context, env bus.Envelope, call bus.WorkerCall) (json.RawMessage, error) {
		return srv.Call(ctx, env.From, call)
	})
	sub, err := c.bus.Serve(bus.WorkersQueue("B"), mux.Serve)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, sub.Cancel())
		require.NoError(t, c.bus.Close())
	})
	return c
}

// client is server from's WorkerClient of B's worker index.
func (c *testCluster) client(from cluster.ServerID, index int) ipc.WorkerClient {
	return relay.NewClient(c.bus, from, cluster.LocalWorker("B", index))
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestOwnerWorksARelayWorkerThroughTheBus(t *testing.T) {
	c := newCluster(t)
	w := c.client("A", 0)
	require.Equal(t, cluster.LocalWorker("B", 0), w.Ref())

	// The reply comes back typed, and the lender's rewrite reached the worker.
	created, err := w.PipeCreate(ctxFor(t, 5*time.Second), ipc.PipeCreate{PipeID: "P", RouterID: "RT", ListenIP: "10.0.0.1"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.12:4000", created.LocalAddr, "the pipe end listens where the relay says")

	checked, done := c.lender.seen()
	want := ipc.NewRequest(ipc.CallPipeCreate, ipc.PipeCreate{PipeID: "P", RouterID: "RT", ListenIP: "10.0.0.1"})
	require.Equal(t, []ipc.Request{want}, checked, "the lender got the owner's request, decoded into its type")
	require.Equal(t, []ipc.Request{want}, done)
	require.Equal(t, []string{ipc.MethodPipeCreate}, c.worker.served())
}

func TestWorkerErrorsComeBackTyped(t *testing.T) {
	c := newCluster(t)
	w := c.client("A", 0)
	ctx := ctxFor(t, 5*time.Second)

	// The worker's own refusal is the *ipc.RemoteError it answered, as from
	// a local worker; the lender still hears the call was served.
	var re *ipc.RemoteError
	require.ErrorAs(t, w.CloseTransport(ctx, ipc.TransportRef{TransportID: "T"}), &re)
	require.Equal(t, ipc.CodeNotFound, re.Code)
	require.Equal(t, "transport T", re.Message)
	_, done := c.lender.seen()
	require.Len(t, done, 1)

	// A worker that is down on the relay is down for the owner too.
	err := w.Consume(ctx, ipc.ConsumerRef{TransportID: "T", ProducerID: "down"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown)

	// A worker the relay does not have is not found.
	require.ErrorAs(t, c.client("A", 3).CloseTransport(ctx, ipc.TransportRef{TransportID: "T"}), &re)
	require.Equal(t, bus.CodeNotFound, re.Code)
	require.Contains(t, re.Message, "no worker 3 on B")
}

func TestARefusedCallNeverReachesTheWorker(t *testing.T) {
	c := newCluster(t)
	ctx := ctxFor(t, 5*time.Second)
	var re *ipc.RemoteError

	// Not lent to this owner.
	require.ErrorAs(t, c.client("C", 0).CloseTransport(ctx, ipc.TransportRef{TransportID: "T"}), &re)
	require.Equal(t, ipc.CodeNotFound, re.Code)
	require.Contains(t, re.Message, "not relayed here for C")
	// Not lent at all.
	_, err := c.client("A", 0).PipeCreate(ctx, ipc.PipeCreate{PipeID: "P", RouterID: "RT9"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, ipc.CodeNotFound, re.Code)
	// Not a method relays serve.
	require.ErrorAs(t, c.client("A", 0).CreateRouter(ctx, ipc.RouterCreate{RouterID: "X"}), &re)
	require.Equal(t, ipc.CodeUnknownMethod, re.Code)

	checked, done := c.lender.seen()
	require.Len(t, checked, 3)
	require.Empty(t, done, "a refused call changes nothing")
	require.Empty(t, c.worker.served())
}

func TestTheOwnersDeadlineAndCancelReachTheRelayWorker(t *testing.T) {
	c := newCluster(t)
	w := c.client("A", 0)

	// The owner's deadline is the worker's.
	deadline := time.Now().Add(300 * time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- w.Consume(ctx, ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}) }()
	var wctx context.Context
	select {
	case wctx = <-c.worker.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach the worker")
	}
	got, ok := wctx.Deadline()
	require.True(t, ok, "the worker's call has a deadline")
	require.WithinDuration(t, deadline, got, time.Millisecond)
	select {
	case <-wctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the owner's deadline did not end the worker's call")
	}
	err := <-errc
	require.ErrorIs(t, err, ipc.ErrWorkerDown, "a relay that does not answer in time is down for the owner")

	// The owner giving up ends the worker's call too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { errc <- w.Consume(ctx2, ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}) }()
	select {
	case wctx = <-c.worker.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach the worker")
	}
	cancel2()
	select {
	case <-wctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the owner's cancel did not end the worker's call")
	}
	require.ErrorIs(t, <-errc, context.Canceled)
}

func TestCallsToADeadServerFailAtOnce(t *testing.T) {
	c := newCluster(t)
	down := ipc.NewClient(cluster.LocalWorker("B", 0), relay.Caller{Bus: c.bus, From: "A", To: cluster.LocalWorker("B", 0),
		Down: func() bool { return true }})
	start := time.Now()
	err := down.CloseTransport(ctxFor(t, 5*time.Second), ipc.TransportRef{TransportID: "T"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown)
	require.Less(t, time.Since(start), time.Second)
	checked, _ := c.lender.seen()
	require.Empty(t, checked, "nothing was sent")

	// A server nobody serves: the owner's deadline answers, as down.
	nobody := relay.NewClient(c.bus, "A", cluster.LocalWorker("Z", 0))
	err = nobody.CloseTransport(ctxFor(t, 100*time.Millisecond), ipc.TransportRef{TransportID: "T"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown)
}

func TestBusErrorMapsWorkerAnswers(t *testing.T) {
	var be *bus.Error
	require.ErrorAs(t, relay.BusError(&ipc.RemoteError{Code: ipc.CodeExists, Message: "router R"}), &be)
	require.Equal(t, bus.Error{Code: ipc.CodeExists, Message: "router R"}, *be)
	require.ErrorAs(t, relay.BusError(fmt.Errorf("call: %w", ipc.ErrClosed)), &be)
	require.Equal(t, relay.CodeWorkerDown, be.Code)
	other := errors.New("other")
	require.Equal(t, other, relay.BusError(other))
}

// givesUpWithItsCaller is a relay whose worker answers "cancelled" the
// moment the owner gives up, and whose answer reaches the owner before the
// owner sees its own end: the race the in-process bus runs, where the
// relay's worker shares the owner's context.
type givesUpWithItsCaller struct{ bus.Bus }

func (givesUpWithItsCaller) Request(ctx context.Context, _ bus.Destination, req bus.Envelope) (bus.Envelope, error) {
	<-ctx.Done()
	return bus.Reply(req, nil, relay.BusError(ipc.Cancelled(ctx.Err()))), nil
}

func TestTheOwnersOwnEndWinsOverTheRelaysEcho(t *testing.T) {
	w := relay.NewClient(givesUpWithItsCaller{}, "A", cluster.LocalWorker("B", 0))

	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	require.ErrorIs(t, w.Consume(ctx, ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}), context.Canceled,
		"an owner that gave up hears that, not the relay's echo of it")

	err := w.Consume(ctxFor(t, 20*time.Millisecond), ipc.ConsumerRef{TransportID: "T", ProducerID: "P"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown, "a relay that did not answer in time is down, whatever it said as the time ran out")
}
