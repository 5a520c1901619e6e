package ipc

import (
	"context"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// ErrWorkerDown is returned by calls to a worker that is not running.
var ErrWorkerDown = wire.NewError(wire.CodeUnavailable, "worker is not running")

// WorkerClient is everything the room host asks of a worker, wherever the
// worker runs: the local stdio IPC implements it, and a worker on another
// server is one more implementation over the bus. Every call carries its
// caller's context; its deadline reaches the worker.
type WorkerClient interface {
	Ref() cluster.WorkerRef
	Load(ctx context.Context) (Load, error)
	CreateRouter(ctx context.Context, req RouterCreate) error
	CloseRouter(ctx context.Context, req RouterRef) error
	CreateTransport(ctx context.Context, req TransportCreate) error
	Answer(ctx context.Context, req SDP) error
	AddCandidate(ctx context.Context, req Candidate) error
	RestartICE(ctx context.Context, req TransportRef) error
	CloseTransport(ctx context.Context, req TransportRef) error
	Consume(ctx context.Context, req ConsumerRef) error
	CloseConsumer(ctx context.Context, req ConsumerRef) error
	PauseProducer(ctx context.Context, req ProducerPause) error
	PipeCreate(ctx context.Context, req PipeCreate) (PipeCreated, error)
	PipeConnect(ctx context.Context, req PipeConnect) error
	PipeConsume(ctx context.Context, req PipeFlow) error
	PipeUnconsume(ctx context.Context, req PipeFlow) error
	PipeProduce(ctx context.Context, req PipeFlow) error
	PipeUnproduce(ctx context.Context, req PipeFlow) error
	PipeClose(ctx context.Context, req PipeRef) error
}

// Client is a WorkerClient over any Caller (a worker's Conn).
type Client struct {
	ref cluster.WorkerRef
	c   Caller
}

// NewClient returns the client of the worker at ref, reached through c.
func NewClient(ref cluster.WorkerRef, c Caller) *Client { return &Client{ref: ref, c: c} }

var _ WorkerClient = (*Client)(nil)

// Ref is where the worker is.
func (w *Client) Ref() cluster.WorkerRef { return w.ref }

func call[Req any](ctx context.Context, c Caller, m Method[Req, Empty], req Req) error {
	_, err := m.Call(ctx, c, req)
	return err
}

// Load reads the worker's live load.
func (w *Client) Load(ctx context.Context) (Load, error) { return CallLoad.Call(ctx, w.c, Empty{}) }

// CreateRouter opens a router.
func (w *Client) CreateRouter(ctx context.Context, req RouterCreate) error {
	return call(ctx, w.c, CallRouterCreate, req)
}

// CloseRouter closes a router and everything on it.
func (w *Client) CloseRouter(ctx context.Context, req RouterRef) error {
	return call(ctx, w.c, CallRouterClose, req)
}

// CreateTransport opens a peer's transport; its offer comes as an event.
func (w *Client) CreateTransport(ctx context.Context, req TransportCreate) error {
	return call(ctx, w.c, CallTransportCreate, req)
}

// Answer applies the peer's SDP answer.
func (w *Client) Answer(ctx context.Context, req SDP) error {
	return call(ctx, w.c, CallTransportAnswer, req)
}

// AddCandidate adds a trickled remote candidate.
func (w *Client) AddCandidate(ctx context.Context, req Candidate) error {
	return call(ctx, w.c, CallTransportCand, req)
}

// RestartICE makes a transport offer new ICE credentials (RFC 8445 §9,
// JSEP's iceRestart); its offer comes as an event. DTLS, SRTP and the
// transport's streams are kept.
func (w *Client) RestartICE(ctx context.Context, req TransportRef) error {
	return call(ctx, w.c, CallTransportICE, req)
}

// CloseTransport closes a peer's transport.
func (w *Client) CloseTransport(ctx context.Context, req TransportRef) error {
	return call(ctx, w.c, CallTransportClose, req)
}

// Consume makes a transport receive a producer of its router.
func (w *Client) Consume(ctx context.Context, req ConsumerRef) error {
	return call(ctx, w.c, CallConsumerCreate, req)
}

// CloseConsumer stops a transport receiving a producer.
func (w *Client) CloseConsumer(ctx context.Context, req ConsumerRef) error {
	return call(ctx, w.c, CallConsumerClose, req)
}

// PauseProducer pauses or resumes a producer's forwarding on this worker.
func (w *Client) PauseProducer(ctx context.Context, req ProducerPause) error {
	return call(ctx, w.c, CallProducerPause, req)
}

// PipeCreate opens one end of a pipe.
func (w *Client) PipeCreate(ctx context.Context, req PipeCreate) (PipeCreated, error) {
	return CallPipeCreate.Call(ctx, w.c, req)
}

// PipeConnect points a pipe end at the other end.
func (w *Client) PipeConnect(ctx context.Context, req PipeConnect) error {
	return call(ctx, w.c, CallPipeConnect, req)
}

// PipeConsume sends a producer through a pipe.
func (w *Client) PipeConsume(ctx context.Context, req PipeFlow) error {
	return call(ctx, w.c, CallPipeConsume, req)
}

// PipeUnconsume stops sending it.
func (w *Client) PipeUnconsume(ctx context.Context, req PipeFlow) error {
	return call(ctx, w.c, CallPipeUnconsume, req)
}

// PipeProduce turns a flow arriving through a pipe back into its producer.
func (w *Client) PipeProduce(ctx context.Context, req PipeFlow) error {
	return call(ctx, w.c, CallPipeProduce, req)
}

// PipeUnproduce closes that producer.
func (w *Client) PipeUnproduce(ctx context.Context, req PipeFlow) error {
	return call(ctx, w.c, CallPipeUnproduce, req)
}

// PipeClose closes a pipe end.
func (w *Client) PipeClose(ctx context.Context, req PipeRef) error {
	return call(ctx, w.c, CallPipeClose, req)
}
