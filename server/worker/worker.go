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
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"

	"github.com/voicectl/voicectl/internal/procstat"
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
	log     *slog.Logger
	conn    *ipc.Conn
	methods *ipc.Mux

	mu         sync.Mutex
	api        *mediaAPI
	mux        *ice.MultiUDPMuxDefault
	tcpMux     *ice.TCPMuxDefault // nil: no ICE over TCP
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
	// redMalformed counts publishers' RED packets (RFC 2198) dropped because
	// their blocks did not fit (see parseRED).
	redMalformed atomic.Uint64
	delay        delayHistogram
	// The connection quality rounds (qualitysample.go) and what they measured.
	qualityJob  atomic.Pointer[roundJob]
	qualityHist qualityHistograms
	// nack is rtc.nack: generic NACK is offered, and producers keep a
	// history for it (see nack.go); nacks counts what it did.
	nack  bool
	nacks nackCounters

	// handshakes counts transports connecting: while there are any, fan-outs
	// let the runtime hand the P over (see handshakeStarted).
	handshakes atomic.Int32
	// handshakeLimit replaces the const handshakeLimit when set (tests).
	handshakeLimit time.Duration
	// afterSetLocal, when set (tests), runs between setting an offer and
	// sending it, where pion's gathering races the offer.
	afterSetLocal func()
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
	w.methods = w.handlers()
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
	mux, tcpMux := w.mux, w.tcpMux
	w.mu.Unlock()
	for _, r := range routers {
		w.closeRouter(r)
	}
	if job := w.qualityJob.Load(); job != nil {
		job.Stop()
	}
	if mux != nil {
		_ = mux.Close()
	}
	if tcpMux != nil {
		_ = tcpMux.Close()
	}
}

// HandleEvent implements ipc.Handler; control sends no events.
func (w *Worker) HandleEvent(string, json.RawMessage) {}

// HandleRequest implements ipc.Handler through the worker's typed methods.
func (w *Worker) HandleRequest(ctx context.Context, method string, raw json.RawMessage) (any, error) {
	return w.methods.Serve(ctx, method, raw)
}

// handlers binds each ipc method to the worker; ipc.Handle checks the request's
// type at compile time and drops requests whose caller gave up before they ran.
func (w *Worker) handlers() *ipc.Mux {
	m := ipc.NewMux()
	none := ipc.Empty{}
	ipc.Handle(m, ipc.CallInit, func(_ context.Context, p ipc.InitParams) (ipc.Ready, error) { return w.init(p) })
	ipc.Handle(m, ipc.CallLoad, func(context.Context, ipc.Empty) (ipc.Load, error) { return w.load(), nil })
	ipc.Handle(m, ipc.CallRouterCreate, func(_ context.Context, p ipc.RouterCreate) (ipc.Empty, error) {
		return none, w.createRouter(p.RouterID, p.MaxForwardedSpeakers)
	})
	ipc.Handle(m, ipc.CallRouterClose, func(_ context.Context, p ipc.RouterRef) (ipc.Empty, error) {
		w.mu.Lock()
		r := w.routers[p.RouterID]
		w.mu.Unlock()
		if r == nil {
			return none, notFound("router", p.RouterID)
		}
		w.closeRouter(r)
		return none, nil
	})
	ipc.Handle(m, ipc.CallTransportCreate, func(ctx context.Context, p ipc.TransportCreate) (ipc.Empty, error) {
		if err := w.createTransport(p); err != nil {
			return none, err
		}
		if ctx.Err() != nil {
			// Nobody waits for this transport: its join was given up.
			if t, err := w.transport(p.TransportID); err == nil {
				w.closeTransport(t)
			}
			return none, ipc.Cancelled(ctx.Err())
		}
		return none, nil
	})
	ipc.Handle(m, ipc.CallTransportAnswer, func(_ context.Context, p ipc.SDP) (ipc.Empty, error) {
		t, err := w.transport(p.TransportID)
		if err != nil {
			return none, err
		}
		return none, t.applyAnswer(p.SDP)
	})
	ipc.Handle(m, ipc.CallTransportCand, func(_ context.Context, p ipc.Candidate) (ipc.Empty, error) {
		t, err := w.transport(p.TransportID)
		if err != nil {
			return none, err
		}
		return none, t.addCandidate(p.Candidate)
	})
	ipc.Handle(m, ipc.CallTransportICE, func(_ context.Context, p ipc.TransportRef) (ipc.Empty, error) {
		t, err := w.transport(p.TransportID)
		if err != nil {
			return none, err
		}
		return none, t.restartICE()
	})
	ipc.Handle(m, ipc.CallTransportClose, func(_ context.Context, p ipc.TransportRef) (ipc.Empty, error) {
		t, err := w.transport(p.TransportID)
		if err != nil {
			return none, err
		}
		w.closeTransport(t)
		return none, nil
	})
	ipc.Handle(m, ipc.CallConsumerCreate, func(_ context.Context, p ipc.ConsumerRef) (ipc.Empty, error) {
		return none, w.createConsumer(p)
	})
	ipc.Handle(m, ipc.CallConsumerClose, func(_ context.Context, p ipc.ConsumerRef) (ipc.Empty, error) {
		t, err := w.transport(p.TransportID)
		if err != nil {
			return none, err
		}
		if !t.closeConsumer(p.ProducerID) {
			return none, notFound("consumer", p.ProducerID)
		}
		return none, nil
	})
	ipc.Handle(m, ipc.CallProducerPause, func(_ context.Context, p ipc.ProducerPause) (ipc.Empty, error) {
		w.mu.Lock()
		pr := w.producers[p.ProducerID]
		w.mu.Unlock()
		if pr == nil {
			return none, notFound("producer", p.ProducerID)
		}
		pr.paused.Store(p.Paused)
		return none, nil
	})
	w.pipeHandlers(m)
	return m
}

func (w *Worker) pipeHandlers(m *ipc.Mux) {
	none := ipc.Empty{}
	ipc.Handle(m, ipc.CallPipeCreate, func(_ context.Context, p ipc.PipeCreate) (ipc.PipeCreated, error) {
		return w.createPipe(p)
	})
	ipc.Handle(m, ipc.CallPipeConnect, func(_ context.Context, p ipc.PipeConnect) (ipc.Empty, error) {
		pt, err := w.pipe(p.PipeID)
		if err != nil {
			return none, err
		}
		return none, pt.connect(p)
	})
	ipc.Handle(m, ipc.CallPipeClose, func(_ context.Context, p ipc.PipeRef) (ipc.Empty, error) {
		pt, err := w.pipe(p.PipeID)
		if err != nil {
			return none, err
		}
		w.closePipe(pt)
		return none, nil
	})
	for _, h := range []struct {
		m ipc.Method[ipc.PipeFlow, ipc.Empty]
		f func(*pipeTransport, ipc.PipeFlow) error
	}{
		{ipc.CallPipeConsume, (*pipeTransport).consume},
		{ipc.CallPipeUnconsume, func(pt *pipeTransport, p ipc.PipeFlow) error { return pt.unconsume(p.ProducerID) }},
		{ipc.CallPipeProduce, (*pipeTransport).produce},
		{ipc.CallPipeUnproduce, func(pt *pipeTransport, p ipc.PipeFlow) error { return pt.unproduce(p.ProducerID) }},
	} {
		ipc.Handle(m, h.m, func(_ context.Context, p ipc.PipeFlow) (ipc.Empty, error) {
			pt, err := w.pipe(p.PipeID)
			if err != nil {
				return none, err
			}
			return none, h.f(pt, p)
		})
	}
}

func (w *Worker) pipe(id string) (*pipeTransport, error) {
	w.mu.Lock()
	pt := w.pipes[id]
	w.mu.Unlock()
	if pt == nil {
		return nil, notFound("pipe", id)
	}
	return pt, nil
}

func (w *Worker) init(p ipc.InitParams) (ipc.Ready, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.api != nil {
		return ipc.Ready{}, errors.New("already initialised")
	}
	sockets, err := newMediaSockets()
	if err != nil {
		return ipc.Ready{}, err
	}
	mux, err := listenMux(p, sockets)
	if err != nil {
		return ipc.Ready{}, err
	}
	var tcpMux *ice.TCPMuxDefault
	var tcpErr error
	if p.TCPPort > 0 {
		// A taken TCP port costs the TCP candidates, not the worker.
		tcpMux, tcpErr = listenTCP(p, mux, tcpFirstCheckTimeout)
	}
	w.nack = !p.NoNACK
	api, err := newMediaAPI(p, mux, sockets)
	if err != nil {
		_ = mux.Close()
		if tcpMux != nil {
			_ = tcpMux.Close()
		}
		return ipc.Ready{}, err
	}
	if tcpMux != nil {
		api.tcpMux = tcpMux
	}
	w.api, w.mux, w.tcpMux, w.index = api, mux, tcpMux, p.Index
	w.scheduleQuality(sockets.rounds)
	w.log = w.log.With("worker", p.Index)
	if tcpErr != nil {
		w.log.Error("worker runs on UDP alone", "tcp_port", p.TCPPort, "err", tcpErr)
	} else if tcpMux != nil {
		w.log.Info("worker listening for ICE over TCP", "tcp_port", p.TCPPort, "addr", tcpMux.LocalAddr().String())
	}
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
	w.qualityHist.fill(&l)
	l.HeapAllocs, l.HeapBytes = procstat.Heap()
	l.Goroutines = runtime.NumGoroutine()
	l.Pipes = len(w.pipes)
	for _, pt := range w.pipes {
		outs, prods := pt.counts()
		l.PipeConsumers += outs
		l.PipeProducers += prods
		l.PipeStats = append(l.PipeStats, pt.stat())
	}
	l.PacketsIn = w.packetsIn.Load()
	l.PacketsOut = w.packetsOut.Load()
	l.REDMalformed = w.redMalformed.Load()
	l.NACKsReceived, l.Retransmits = w.nacks.requested.Load(), w.nacks.resent.Load()
	l.RetransmitsRefused, l.RetransmitsMissing = w.nacks.refused.Load(), w.nacks.missing.Load()
	l.NACKsSent = w.nacks.asked.Load()
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
