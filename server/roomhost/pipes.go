package roomhost

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"math/rand/v2"

	"github.com/voicectl/voicectl/server/ipc"
)

// A pipe links two routers of a room: one pipe transport on each worker,
// built once and shared by every producer crossing between them
// (mediasoup's pipeToRouter). A producer crosses only while a listener on
// the far router needs it (a flow, reference-counted by those listeners).
// Pairs and flows are futures: the first to need one builds it on the
// workers without the room's lock, the rest wait for it; whoever drops
// the last reference while it is still being built leaves the undo to the
// builder, which re-checks the state when its calls return.

// pairKey names a pipe by its routers' ids, a < b.
type pairKey struct{ a, b string }

func keyOf(x, y *router) pairKey {
	if x.id > y.id {
		x, y = y, x
	}
	return pairKey{x.id, y.id}
}

type pipePair struct {
	id   string
	key  pairKey
	ends [2]*router
	// built is set once both ends exist and know each other's address
	// (the ends' local addresses, in the order of ends).
	built  *future[[2]string]
	closed bool // out of the room's pipes
	flows  map[flowKey]*pipeFlow
	ssrc   uint32
	srtp   bool // its two ends were given SRTP keys
}

// flowKey is one producer crossing a pair towards one router.
type flowKey struct {
	producerID string
	to         *router
}

// pipeFlow is a producer crossing a pipe: a pipe consumer on the source
// router and a pipe producer (same producer id) on the far one.
type pipeFlow struct {
	pair   *pipePair
	key    flowKey
	from   *router
	src    *peer
	ssrc   uint32
	level  uint8
	refs   int
	built  *future[struct{}] // set once both its pipe ends carry it
	closed bool              // out of its pair
	paused bool              // as the far router has it
	// upstream, when from is a hub (an owner's router between two relays),
	// is the flow that brings the producer to from; this flow holds one
	// reference on it.
	upstream *pipeFlow
}

func (f *pipeFlow) wire(paused bool) ipc.PipeFlow {
	return ipc.PipeFlow{PipeID: f.pair.id, ProducerID: f.key.producerID, SSRC: f.ssrc, LevelExtID: f.level, Paused: paused}
}

// action is worker work decided under a room's lock and done after it.
type action func(ctx context.Context)

func (h *Host) run(actions []action) {
	if len(actions) == 0 {
		return
	}
	ctx, cancel := h.callCtx()
	defer cancel()
	for _, a := range actions {
		a(ctx)
	}
}

func (h *Host) warnUnlessGone(err error, msg string, args ...any) {
	if !isGone(err) {
		h.log.Warn(msg, append(args, "err", err)...)
	}
}

// refFlowLocked takes one reference on producer q crossing from router
// from (q's own, or a hub it is piped to) to router to, making the pair and
// the flow if they are new; build says which the caller must build.
func (r *room) refFlowLocked(q *peer, from, to *router) (f *pipeFlow, buildPair, buildFlow bool) {
	k := keyOf(from, to)
	pp := r.pipes[k]
	if pp == nil {
		pp = &pipePair{id: newID("PP_"), key: k, ends: [2]*router{from, to}, built: newFuture[[2]string](),
			flows: map[flowKey]*pipeFlow{}, ssrc: rand.Uint32() | 1}
		r.pipes[k] = pp
		buildPair = true
	}
	fk := flowKey{producerID: q.producerID, to: to}
	f = pp.flows[fk]
	if f == nil {
		pp.ssrc++
		f = &pipeFlow{pair: pp, key: fk, from: from, src: q, ssrc: pp.ssrc, level: q.levelExtID, built: newFuture[struct{}](), paused: q.muted}
		pp.flows[fk] = f
		buildFlow = true
	}
	f.refs++
	return f, buildPair, buildFlow
}

// flowStep is a flow to await, and what of it the awaiting caller builds.
type flowStep struct {
	f                    *pipeFlow
	buildPair, buildFlow bool
}

// refPathLocked takes a reference on producer q reaching router to, and
// returns the flows to await, in order, the last being the one the
// reference is on. Between two relays on different servers the producer
// goes through a hub, a router of the owner's (a star, never a mesh of
// relays): a flow into the hub, held by the flow out of it.
func (r *room) refPathLocked(q *peer, to *router) (*pipeFlow, []flowStep) {
	from := q.router
	hub := r.hubLocked(from, to)
	if hub == nil {
		f, bp, bf := r.refFlowLocked(q, from, to)
		return f, []flowStep{{f, bp, bf}}
	}
	if pp := r.pipes[keyOf(hub, to)]; pp != nil {
		if f := pp.flows[flowKey{producerID: q.producerID, to: to}]; f != nil {
			f.refs++ // it holds its upstream already
			return f, []flowStep{{f: f}}
		}
	}
	up, bp1, bf1 := r.refFlowLocked(q, from, hub)
	f, bp2, bf2 := r.refFlowLocked(q, hub, to)
	f.upstream = up
	return f, []flowStep{{up, bp1, bf1}, {f, bp2, bf2}}
}

// hubLocked is the owner's router a producer goes through from one relay
// router to another on a different server, nil when there is no need (or
// no router of the owner's to go through: then the relays pipe directly).
func (r *room) hubLocked(from, to *router) *router {
	if !from.remote || !to.remote || from.ref.Server == to.ref.Server {
		return nil
	}
	var hub *router
	for _, rt := range r.routers {
		if !rt.remote && !rt.state.out() && (hub == nil || rt.ref.Less(hub.ref)) {
			hub = rt
		}
	}
	return hub
}

// awaitPath awaits each step of a path in order; the first failure is the
// path's, and every step is still awaited, so that a flow this caller was to
// build is built (or fails) and nobody waits on it forever.
func (h *Host) awaitPath(r *room, steps []flowStep) error {
	var first error
	for _, st := range steps {
		if err := h.awaitFlow(r, st.f, st.buildPair, st.buildFlow); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// awaitFlow builds what the caller must and waits for the rest; it returns
// the flow's outcome.
func (h *Host) awaitFlow(r *room, f *pipeFlow, buildPair, buildFlow bool) error {
	if buildPair {
		h.buildPair(r, f.pair)
	}
	<-f.pair.built.Done()
	if buildFlow {
		h.buildFlow(r, f)
	}
	_, err := f.built.result()
	return err
}

func (h *Host) buildPair(r *room, pp *pipePair) {
	ctx, cancel := h.callCtx()
	defer cancel()
	var created []*router
	crossHost := pp.ends[0].ref.Server != pp.ends[1].ref.Server
	listenIP := h.pipeIP
	var keys [2]*ipc.PipeSRTP
	var addrs [2]string
	if crossHost {
		// Our end listens where other servers reach us; a relay's end is
		// placed on its own pipe address by the relay.
		listenIP = h.xpipeIP
		if h.srtp {
			keys = newPipeKeys()
			pp.srtp = true
		}
	}
	err := func() error {
		for i, end := range pp.ends {
			res, err := end.client.PipeCreate(ctx, ipc.PipeCreate{PipeID: pp.id, RouterID: end.id, ListenIP: listenIP})
			if err != nil {
				return fmt.Errorf("pipe create on worker %s: %w", end.ref, err)
			}
			created = append(created, end)
			addrs[i] = res.LocalAddr
		}
		for i, end := range pp.ends {
			if err := end.client.PipeConnect(ctx, ipc.PipeConnect{PipeID: pp.id, RemoteAddr: addrs[1-i], SRTP: keys[i]}); err != nil {
				return fmt.Errorf("pipe connect on worker %s: %w", end.ref, err)
			}
		}
		return nil
	}()
	if err != nil {
		for _, end := range created {
			_ = end.client.PipeClose(ctx, ipc.PipeRef{PipeID: pp.id})
		}
	}
	r.mu.Lock()
	pp.built.set(addrs, err)
	var actions []action
	if err != nil {
		pp.closed = true
		if r.pipes[pp.key] == pp {
			delete(r.pipes, pp.key)
		}
	} else {
		actions = r.pairIdleLocked(h, pp) // every flow was released while it was built
	}
	r.mu.Unlock()
	h.run(actions)
}

func (h *Host) buildFlow(r *room, f *pipeFlow) {
	pp := f.pair
	_, err := pp.built.result()
	r.mu.Lock()
	paused := f.paused
	r.mu.Unlock()
	ctx, cancel := h.callCtx()
	defer cancel()
	if err == nil {
		flow := f.wire(paused)
		if err = f.key.to.client.PipeProduce(ctx, flow); err != nil {
			err = fmt.Errorf("pipe produce: %w", err)
		} else if err = f.from.client.PipeConsume(ctx, flow); err != nil {
			_ = f.key.to.client.PipeUnproduce(ctx, flow)
			err = fmt.Errorf("pipe consume: %w", err)
		}
	}
	r.mu.Lock()
	f.built.set(struct{}{}, err)
	var actions []action
	switch {
	case err != nil:
		f.closed = true
		if pp.flows[f.key] == f {
			delete(pp.flows, f.key)
		}
		actions = r.pairIdleLocked(h, pp)
	case f.closed: // every reference went while it was built
		actions = append(h.undoFlow(f), r.pairIdleLocked(h, pp)...)
	case f.src.muted != f.paused: // a mute came while it was built
		f.paused = f.src.muted
		actions = []action{h.pauseOn(f.key.to, f.key.producerID, f.paused)}
	}
	r.mu.Unlock()
	h.run(actions)
}

func (h *Host) undoFlow(f *pipeFlow) []action {
	flow := f.wire(false)
	return []action{func(ctx context.Context) {
		h.warnUnlessGone(f.key.to.client.PipeUnproduce(ctx, flow), "pipe unproduce failed", "pipe", flow.PipeID)
		h.warnUnlessGone(f.from.client.PipeUnconsume(ctx, flow), "pipe unconsume failed", "pipe", flow.PipeID)
	}}
}

func (h *Host) pauseOn(rt *router, producerID string, paused bool) action {
	return func(ctx context.Context) {
		h.warnUnlessGone(rt.client.PauseProducer(ctx, ipc.ProducerPause{ProducerID: producerID, Paused: paused}), "producer pause failed", "producer", producerID)
	}
}

// closeFlowLocked takes f out of its pair; a built flow is undone on the
// workers, one still being built is undone by its builder.
func (r *room) closeFlowLocked(h *Host, f *pipeFlow) []action {
	if f.closed {
		return nil
	}
	f.closed = true
	if f.pair.flows[f.key] == f {
		delete(f.pair.flows, f.key)
	}
	var actions []action
	if up := f.upstream; up != nil {
		f.upstream = nil
		actions = r.releaseFlowLocked(h, up)
	}
	if !f.built.succeeded() {
		return actions
	}
	return append(h.undoFlow(f), actions...)
}

// releaseFlowLocked gives back one reference; the last one closes the flow
// and, when it was the pair's last, the pair.
func (r *room) releaseFlowLocked(h *Host, f *pipeFlow) []action {
	if f.refs--; f.refs > 0 {
		return nil
	}
	return append(r.closeFlowLocked(h, f), r.pairIdleLocked(h, f.pair)...)
}

// pairIdleLocked closes a built pair that carries no flow.
func (r *room) pairIdleLocked(h *Host, pp *pipePair) []action {
	if pp.closed || len(pp.flows) > 0 || !pp.built.resolved() {
		return nil
	}
	pp.closed = true
	if r.pipes[pp.key] == pp {
		delete(r.pipes, pp.key)
	}
	var actions []action
	if pp.built.succeeded() {
		actions = append(actions, func(ctx context.Context) {
			for _, end := range pp.ends {
				h.warnUnlessGone(end.client.PipeClose(ctx, ipc.PipeRef{PipeID: pp.id}), "pipe close failed", "pipe", pp.id, "worker", end.ref)
			}
		})
	}
	for _, end := range pp.ends {
		actions = append(actions, r.hubIdleLocked(h, end)...)
	}
	return actions
}

// hubIdleLocked retires a router its peers have left that was kept as a hub
// while producers went through it, once no pipe touches it any more.
func (r *room) hubIdleLocked(h *Host, rt *router) []action {
	if rt.state != routerHub {
		return nil
	}
	for _, q := range r.peers {
		if q.router == rt { // placed there since: a router again
			return nil
		}
	}
	for _, pp := range r.pipes {
		if pp.ends[0] == rt || pp.ends[1] == rt {
			return nil
		}
	}
	rt.state = routerRemoved
	if r.routers[rt.ref] == rt {
		delete(r.routers, rt.ref)
	}
	return []action{func(ctx context.Context) {
		h.mu.Lock()
		if h.routers[rt.id] == r {
			delete(h.routers, rt.id)
		}
		h.mu.Unlock()
		h.warnUnlessGone(rt.client.CloseRouter(ctx, ipc.RouterRef{RouterID: rt.id}), "router close failed", "router", rt.id)
	}}
}

// carriesLocked reports whether producers go through rt to other routers.
func (r *room) carriesLocked(rt *router) bool {
	for _, pp := range r.pipes {
		if (pp.ends[0] == rt || pp.ends[1] == rt) && len(pp.flows) > 0 {
			return true
		}
	}
	return false
}

// dropProducerFlowsLocked closes every flow of a producer that ended, and
// forgets the listeners' claims on it.
func (r *room) dropProducerFlowsLocked(h *Host, producerID string) []action {
	var actions []action
	for _, pp := range r.pipes {
		for fk, f := range pp.flows {
			if fk.producerID == producerID {
				actions = append(actions, r.closeFlowLocked(h, f)...)
			}
		}
		actions = append(actions, r.pairIdleLocked(h, pp)...)
	}
	for _, q := range r.peers {
		if cl := q.consumes[producerID]; cl != nil {
			cl.released = true
			delete(q.consumes, producerID)
		}
	}
	return actions
}

// closePairsOfLocked closes every pair touching a router that is going away.
func (r *room) closePairsOfLocked(h *Host, rt *router) []action {
	var actions []action
	for _, pp := range r.pipes {
		if pp.ends[0] != rt && pp.ends[1] != rt {
			continue
		}
		for _, f := range pp.flows {
			actions = append(actions, r.closeFlowLocked(h, f)...)
		}
		actions = append(actions, r.pairIdleLocked(h, pp)...)
	}
	return actions
}

// pauseFlowsLocked records paused on every built flow of a producer and
// returns the routers they go to, where the caller pauses it.
func (r *room) pauseFlowsLocked(producerID string, paused bool) []*router {
	var out []*router
	for _, pp := range r.pipes {
		for fk, f := range pp.flows {
			if fk.producerID == producerID && f.built.succeeded() {
				f.paused = paused
				out = append(out, fk.to)
			}
		}
	}
	return out
}

// newPipeKeys makes one SRTP master key and salt per direction of a pipe
// between hosts (RFC 3711 AES_CM_128_HMAC_SHA1_80: 16 + 14 bytes): end 0
// sends with what end 1 receives with, and the other way round. They travel
// only in the pipe.connect requests to the two workers.
func newPipeKeys() [2]*ipc.PipeSRTP {
	a, b := make([]byte, 30), make([]byte, 30)
	_, _ = crand.Read(a)
	_, _ = crand.Read(b)
	ka, kb := base64.StdEncoding.EncodeToString(a), base64.StdEncoding.EncodeToString(b)
	return [2]*ipc.PipeSRTP{{SendKey: ka, RecvKey: kb}, {SendKey: kb, RecvKey: ka}}
}
