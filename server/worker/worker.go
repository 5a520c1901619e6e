// Package worker is the media half of the SFU: it runs in a child process of
// `voicectl serve` and holds routers, WebRTC transports, producers and consumers.
// The control process steers it over ipc; no room logic lives here.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// Params configures Run.
type Params struct {
	Logger *slog.Logger
	In     io.Reader // control → worker frames
	Out    io.Writer // worker → control frames
}

// Worker is one worker process's state.
type Worker struct {
	log  *slog.Logger
	conn *ipc.Conn

	mu         sync.Mutex
	api        *mediaAPI
	mux        *ice.MultiUDPMuxDefault
	index      int
	routers    map[string]*router
	transports map[string]*transport
	producers  map[string]*producer
	pipes      map[string]*pipeTransport

	packetsIn  atomic.Uint64
	packetsOut atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	rtcpLost   atomic.Uint64
	delay      delayHistogram

	// handshakes counts transports connecting: while there are any, fan-outs
	// let the runtime hand the P over (see handshakeStarted).
	handshakes atomic.Int32
	// handshakeLimit replaces the const handshakeLimit when set (tests).
	handshakeLimit time.Duration
}

// Run serves control's requests until control hangs up or ctx ends.
func Run(ctx context.Context, p Params) error {
	w := &Worker{
		log:        p.Logger,
		routers:    map[string]*router{},
		transports: map[string]*transport{},
		producers:  map[string]*producer{},
		pipes:      map[string]*pipeTransport{},
	}
	w.conn = ipc.New(p.In, p.Out, w, p.Logger)
	w.conn.Start()
	select {
	case <-w.conn.Done():
	case <-ctx.Done():
	}
	w.closeAll()
	return nil
}

func (w *Worker) closeAll() {
	w.mu.Lock()
	routers := slices.Collect(maps.Values(w.routers))
	mux := w.mux
	w.mu.Unlock()
	for _, r := range routers {
		w.closeRouter(r)
	}
	if mux != nil {
		_ = mux.Close()
	}
}

// HandleEvent implements ipc.Handler; control sends no events.
func (w *Worker) HandleEvent(string, json.RawMessage) {}

// HandleRequest implements ipc.Handler.
func (w *Worker) HandleRequest(_ context.Context, method string, raw json.RawMessage) (any, error) {
	switch method {
	case ipc.MethodInit:
		var p ipc.InitParams
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return w.init(p)
	case ipc.MethodLoad:
		return w.load(), nil
	case ipc.MethodRouterCreate:
		var p ipc.RouterCreate
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return nil, w.createRouter(p.RouterID, p.MaxForwardedSpeakers)
	case ipc.MethodRouterClose:
		var p ipc.RouterRef
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		w.mu.Lock()
		r := w.routers[p.RouterID]
		w.mu.Unlock()
		if r == nil {
			return nil, notFound("router", p.RouterID)
		}
		w.closeRouter(r)
		return nil, nil
	case ipc.MethodTransportCreate:
		var p ipc.TransportCreate
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return nil, w.createTransport(p)
	case ipc.MethodTransportAnswer:
		var p ipc.SDP
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		t, err := w.transport(p.TransportID)
		if err != nil {
			return nil, err
		}
		return nil, t.applyAnswer(p.SDP)
	case ipc.MethodTransportCand:
		var p ipc.Candidate
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		t, err := w.transport(p.TransportID)
		if err != nil {
			return nil, err
		}
		return nil, t.addCandidate(p.Candidate)
	case ipc.MethodTransportClose:
		var p ipc.TransportRef
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		t, err := w.transport(p.TransportID)
		if err != nil {
			return nil, err
		}
		w.closeTransport(t)
		return nil, nil
	case ipc.MethodConsumerCreate:
		var p ipc.ConsumerRef
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return nil, w.createConsumer(p)
	case ipc.MethodConsumerClose:
		var p ipc.ConsumerRef
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		t, err := w.transport(p.TransportID)
		if err != nil {
			return nil, err
		}
		if !t.closeConsumer(p.ProducerID) {
			return nil, notFound("consumer", p.ProducerID)
		}
		return nil, nil
	case ipc.MethodProducerPause:
		var p ipc.ProducerPause
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		w.mu.Lock()
		pr := w.producers[p.ProducerID]
		w.mu.Unlock()
		if pr == nil {
			return nil, notFound("producer", p.ProducerID)
		}
		pr.paused.Store(p.Paused)
		return nil, nil
	}
	if strings.HasPrefix(method, "pipe.") {
		return w.handlePipe(method, raw)
	}
	return nil, &ipc.RemoteError{Code: "unknown_method", Message: method}
}

func (w *Worker) handlePipe(method string, raw json.RawMessage) (any, error) {
	if method == ipc.MethodPipeCreate {
		var p ipc.PipeCreate
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return w.createPipe(p)
	}
	var ref ipc.PipeRef
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, err
	}
	w.mu.Lock()
	pt := w.pipes[ref.PipeID]
	w.mu.Unlock()
	if pt == nil {
		return nil, notFound("pipe", ref.PipeID)
	}
	switch method {
	case ipc.MethodPipeConnect:
		var p ipc.PipeConnect
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return nil, pt.connect(p)
	case ipc.MethodPipeClose:
		w.closePipe(pt)
		return nil, nil
	}
	var f ipc.PipeFlow
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	switch method {
	case ipc.MethodPipeConsume:
		return nil, pt.consume(f)
	case ipc.MethodPipeUnconsume:
		return nil, pt.unconsume(f.ProducerID)
	case ipc.MethodPipeProduce:
		return nil, pt.produce(f)
	case ipc.MethodPipeUnproduce:
		return nil, pt.unproduce(f.ProducerID)
	}
	return nil, &ipc.RemoteError{Code: "unknown_method", Message: method}
}

func (w *Worker) init(p ipc.InitParams) (any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.api != nil {
		return nil, errors.New("already initialised")
	}
	sockets, err := newMediaSockets()
	if err != nil {
		return nil, err
	}
	mux, err := listenMux(p, sockets)
	if err != nil {
		return nil, err
	}
	api, err := newMediaAPI(p, mux, sockets)
	if err != nil {
		_ = mux.Close()
		return nil, err
	}
	w.api, w.mux, w.index = api, mux, p.Index
	w.log = w.log.With("worker", p.Index)
	for _, err := range sockets.sendSocketErrors() {
		w.log.Warn("forwarding writes on the media socket itself (no separate send socket)", "err", err)
	}
	w.log.Info("worker listening", "port", p.Port, "addrs", fmt.Sprint(mux.GetListenAddresses()))
	return ipc.Ready{Index: p.Index, PID: os.Getpid()}, nil
}

func (w *Worker) load() ipc.Load {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := ipc.Load{Routers: len(w.routers), Transports: len(w.transports), Producers: len(w.producers)}
	var jitter float64
	var reports int
	for _, t := range w.transports {
		l.Consumers += t.consumerCount()
		j, n := t.jitter()
		jitter += j
		reports += n
	}
	if reports > 0 {
		l.RTCPJitterSeconds = jitter / float64(reports)
	}
	l.BytesIn, l.BytesOut, l.RTCPPacketsLost = w.bytesIn.Load(), w.bytesOut.Load(), w.rtcpLost.Load()
	l.ForwardDelayBuckets = w.delay.counts()
	l.ForwardDelayMsP50 = wire.ForwardDelayQuantileMs(l.ForwardDelayBuckets, 0.5)
	l.ForwardDelayMsP99 = wire.ForwardDelayQuantileMs(l.ForwardDelayBuckets, 0.99)
	allocs := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(allocs)
	if allocs[0].Value.Kind() == metrics.KindUint64 {
		l.HeapAllocs = allocs[0].Value.Uint64()
	}
	l.Pipes = len(w.pipes)
	for _, pt := range w.pipes {
		outs, prods := pt.counts()
		l.PipeConsumers += outs
		l.PipeProducers += prods
	}
	l.PacketsIn = w.packetsIn.Load()
	l.PacketsOut = w.packetsOut.Load()
	if w.api != nil && w.api.sockets != nil {
		l.ConsentAnswered = w.api.sockets.consent.answered.Load()
		l.ConsentConfirmed = w.api.sockets.consent.confirmed.Load()
		l.IngressRTP = w.api.sockets.ingress.taken.Load()
		l.IngressRejected = w.api.sockets.ingress.rejected.Load()
		l.IngressDropped = w.api.sockets.ingress.dropped.Load()
	}
	return l
}

func (w *Worker) transport(id string) (*transport, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.transports[id]
	if t == nil {
		return nil, notFound("transport", id)
	}
	return t, nil
}

func (w *Worker) notify(method string, v any) {
	if w.conn == nil {
		return
	}
	if err := w.conn.Notify(method, v); err != nil {
		w.log.Debug("notify failed", "method", method, "err", err)
	}
}
