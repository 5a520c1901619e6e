package roomhost

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/wire"
)

// fakeWorker is an in-process worker for unit tests: it keeps the objects a
// real worker would, checks what a real one checks, and can be slowed down.
type fakeWorker struct {
	ref cluster.WorkerRef

	mu         sync.Mutex
	routers    map[string]bool
	transports map[string]string // → router
	producers  map[string]string // → router (local and piped)
	own        map[string]string // transport → the producer it publishes
	piped      map[string]string // pipe producer → its pipe
	consumers  map[[2]string]bool
	pipes      map[string]string // → router
	pipeOuts   map[[2]string]bool
	paused     map[string]bool
	srtp       map[string]bool // pipe → it was given SRTP keys
	listenIPs  map[string]string
	calls      map[string]int
	// hold, when set for a method, is waited on before that method runs.
	hold map[string]chan struct{}
	// jitter, when set, delays every call by up to that much.
	jitter time.Duration
}

func newFakeWorker(i int) *fakeWorker {
	return &fakeWorker{ref: cluster.LocalWorker(cluster.Local, i), routers: map[string]bool{}, transports: map[string]string{},
		producers: map[string]string{}, own: map[string]string{}, piped: map[string]string{}, consumers: map[[2]string]bool{}, pipes: map[string]string{}, pipeOuts: map[[2]string]bool{},
		paused: map[string]bool{}, calls: map[string]int{}, hold: map[string]chan struct{}{}, srtp: map[string]bool{}, listenIPs: map[string]string{}}
}

var errNotFound = &ipc.RemoteError{Code: ipc.CodeNotFound, Message: "not found"}

func (w *fakeWorker) enter(ctx context.Context, method string) error {
	w.mu.Lock()
	w.calls[method]++
	hold, j := w.hold[method], w.jitter
	w.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if j > 0 {
		time.Sleep(rand.N(j))
	}
	return ctx.Err()
}

func (w *fakeWorker) holdMethod(method string) (release func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	w.hold[method] = ch
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.hold, method)
		w.mu.Unlock()
		close(ch)
	}
}

func (w *fakeWorker) count(method string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[method]
}

// empty describes what the worker still holds, "" when nothing.
func (w *fakeWorker) empty() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.routers)+len(w.transports)+len(w.producers)+len(w.consumers)+len(w.pipes)+len(w.pipeOuts) == 0 {
		return ""
	}
	return fmt.Sprintf("worker %s holds routers %v transports %v producers %v consumers %v pipes %v pipe outs %v",
		w.ref, w.routers, w.transports, w.producers, w.consumers, w.pipes, w.pipeOuts)
}

// produce is a publisher's track arriving: the worker makes its producer.
func (w *fakeWorker) produce(transportID, producerID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.producers[producerID] = w.transports[transportID]
	w.own[transportID] = producerID
}

// endTrack is a publisher's track ending while its transport stays.
func (w *fakeWorker) endTrack(transportID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pr, ok := w.own[transportID]; ok {
		delete(w.own, transportID)
		w.forgetProducerLocked(pr)
	}
}

func (w *fakeWorker) Ref() cluster.WorkerRef { return w.ref }

func (w *fakeWorker) Load(ctx context.Context) (ipc.Load, error) {
	return ipc.Load{}, w.enter(ctx, ipc.MethodLoad)
}

func (w *fakeWorker) CreateRouter(ctx context.Context, req ipc.RouterCreate) error {
	if err := w.enter(ctx, ipc.MethodRouterCreate); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.routers[req.RouterID] {
		return &ipc.RemoteError{Code: ipc.CodeExists}
	}
	w.routers[req.RouterID] = true
	return nil
}

func (w *fakeWorker) CloseRouter(ctx context.Context, req ipc.RouterRef) error {
	if err := w.enter(ctx, ipc.MethodRouterClose); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.routers[req.RouterID] {
		return errNotFound
	}
	delete(w.routers, req.RouterID)
	for t, r := range w.transports {
		if r == req.RouterID {
			w.dropTransportLocked(t)
		}
	}
	for p, r := range w.pipes {
		if r == req.RouterID {
			w.dropPipeLocked(p)
		}
	}
	for p, r := range w.producers {
		if r == req.RouterID {
			delete(w.producers, p)
			delete(w.piped, p)
		}
	}
	return nil
}

func (w *fakeWorker) CreateTransport(ctx context.Context, req ipc.TransportCreate) error {
	if err := w.enter(ctx, ipc.MethodTransportCreate); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.routers[req.RouterID] {
		return errNotFound
	}
	w.transports[req.TransportID] = req.RouterID
	return nil
}

func (w *fakeWorker) Answer(ctx context.Context, _ ipc.SDP) error {
	return w.enter(ctx, ipc.MethodTransportAnswer)
}
func (w *fakeWorker) RestartICE(ctx context.Context, _ ipc.TransportRef) error {
	return w.enter(ctx, ipc.MethodTransportICE)
}

func (w *fakeWorker) AddCandidate(ctx context.Context, _ ipc.Candidate) error {
	return w.enter(ctx, ipc.MethodTransportCand)
}

func (w *fakeWorker) dropTransportLocked(id string) {
	delete(w.transports, id)
	for k := range w.consumers {
		if k[0] == id {
			delete(w.consumers, k)
		}
	}
	if pr, ok := w.own[id]; ok {
		delete(w.own, id)
		w.forgetProducerLocked(pr)
	}
}

func (w *fakeWorker) CloseTransport(ctx context.Context, req ipc.TransportRef) error {
	if err := w.enter(ctx, ipc.MethodTransportClose); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.transports[req.TransportID]; !ok {
		return errNotFound
	}
	w.dropTransportLocked(req.TransportID)
	return nil
}

// forgetProducerLocked drops a producer and what forwards it.
func (w *fakeWorker) forgetProducerLocked(producerID string) {
	delete(w.producers, producerID)
	for k := range w.consumers {
		if k[1] == producerID {
			delete(w.consumers, k)
		}
	}
	for k := range w.pipeOuts {
		if k[1] == producerID {
			delete(w.pipeOuts, k)
		}
	}
}

func (w *fakeWorker) Consume(ctx context.Context, req ipc.ConsumerRef) error {
	if err := w.enter(ctx, ipc.MethodConsumerCreate); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.transports[req.TransportID]
	if !ok || w.producers[req.ProducerID] != r {
		return errNotFound
	}
	k := [2]string{req.TransportID, req.ProducerID}
	if w.consumers[k] {
		return &ipc.RemoteError{Code: ipc.CodeExists}
	}
	w.consumers[k] = true
	return nil
}

func (w *fakeWorker) CloseConsumer(ctx context.Context, req ipc.ConsumerRef) error {
	if err := w.enter(ctx, ipc.MethodConsumerClose); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.consumers, [2]string{req.TransportID, req.ProducerID})
	return nil
}

func (w *fakeWorker) PauseProducer(ctx context.Context, req ipc.ProducerPause) error {
	if err := w.enter(ctx, ipc.MethodProducerPause); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.producers[req.ProducerID]; !ok {
		return errNotFound
	}
	w.paused[req.ProducerID] = req.Paused
	return nil
}

func (w *fakeWorker) PipeCreate(ctx context.Context, req ipc.PipeCreate) (ipc.PipeCreated, error) {
	if err := w.enter(ctx, ipc.MethodPipeCreate); err != nil {
		return ipc.PipeCreated{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.routers[req.RouterID] {
		return ipc.PipeCreated{}, errNotFound
	}
	w.pipes[req.PipeID] = req.RouterID
	w.listenIPs[req.PipeID] = req.ListenIP
	return ipc.PipeCreated{LocalAddr: fmt.Sprintf("127.0.0.1:%d", 40000+w.ref.Index)}, nil
}

func (w *fakeWorker) PipeConnect(ctx context.Context, req ipc.PipeConnect) error {
	if err := w.enter(ctx, ipc.MethodPipeConnect); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pipes[req.PipeID]; !ok {
		return errNotFound
	}
	w.srtp[req.PipeID] = req.SRTP != nil && req.SRTP.SendKey != req.SRTP.RecvKey
	return nil
}

func (w *fakeWorker) PipeConsume(ctx context.Context, req ipc.PipeFlow) error {
	if err := w.enter(ctx, ipc.MethodPipeConsume); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.pipes[req.PipeID]
	if !ok || w.producers[req.ProducerID] != r {
		return errNotFound
	}
	w.pipeOuts[[2]string{req.PipeID, req.ProducerID}] = true
	return nil
}

func (w *fakeWorker) PipeUnconsume(ctx context.Context, req ipc.PipeFlow) error {
	if err := w.enter(ctx, ipc.MethodPipeUnconsume); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := [2]string{req.PipeID, req.ProducerID}
	if !w.pipeOuts[k] {
		return errNotFound
	}
	delete(w.pipeOuts, k)
	return nil
}

func (w *fakeWorker) PipeProduce(ctx context.Context, req ipc.PipeFlow) error {
	if err := w.enter(ctx, ipc.MethodPipeProduce); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.pipes[req.PipeID]
	if !ok {
		return errNotFound
	}
	w.producers[req.ProducerID] = r
	w.piped[req.ProducerID] = req.PipeID
	w.paused[req.ProducerID] = req.Paused
	return nil
}

func (w *fakeWorker) PipeUnproduce(ctx context.Context, req ipc.PipeFlow) error {
	if err := w.enter(ctx, ipc.MethodPipeUnproduce); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.piped[req.ProducerID]; !ok {
		return errNotFound
	}
	delete(w.piped, req.ProducerID)
	w.forgetProducerLocked(req.ProducerID)
	return nil
}

func (w *fakeWorker) dropPipeLocked(id string) {
	delete(w.pipes, id)
	for k := range w.pipeOuts {
		if k[0] == id {
			delete(w.pipeOuts, k)
		}
	}
	for pr, pipe := range w.piped {
		if pipe == id {
			delete(w.piped, pr)
			w.forgetProducerLocked(pr)
		}
	}
}

func (w *fakeWorker) PipeClose(ctx context.Context, req ipc.PipeRef) error {
	if err := w.enter(ctx, ipc.MethodPipeClose); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pipes[req.PipeID]; !ok {
		return errNotFound
	}
	w.dropPipeLocked(req.PipeID)
	return nil
}

// fakeWorkers offers a fixed set of fake workers.
type fakeWorkers struct{ ws []*fakeWorker }

func (f fakeWorkers) Candidates() []placement.Candidate {
	var out []placement.Candidate
	for _, w := range f.ws {
		out = append(out, placement.Candidate{Ref: w.ref, Local: true})
	}
	return out
}

func (f fakeWorkers) Client(ref cluster.WorkerRef) ipc.WorkerClient {
	for _, w := range f.ws {
		if w.ref == ref {
			return w
		}
	}
	return nil
}

// fakeSession records what the host sends a peer.
type fakeSession struct {
	mu        sync.Mutex
	msgs      []any
	ended     wire.Code
	reconnect string
}

func (s *fakeSession) Send(m any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
}

func (s *fakeSession) Reconnect(reason wire.ReconnectReason, _ int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reconnect = string(reason)
}

func (s *fakeSession) Move(url, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reconnect = "move:" + url
}

func (s *fakeSession) End(code wire.Code, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = code
}

func (s *fakeSession) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		switch v := m.(type) {
		case wire.Joined:
			out = append(out, v.Type)
		case wire.PeerEvent:
			out = append(out, v.Type)
		case wire.PeerLeft:
			out = append(out, v.Type)
		case wire.ProducerEvent:
			out = append(out, v.Type)
		case wire.PeerMuted:
			out = append(out, v.Type)
		}
	}
	return out
}
