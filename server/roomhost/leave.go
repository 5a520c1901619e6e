package roomhost

import (
	"context"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/wire"
)

// Leave removes a peer: its transport, its flows and the references it
// holds, and, when they empty, its router and its room. Safe to call twice
// and while the peer's Connect is still running (Connect then finds it gone
// and undoes what it made).
func (h *Host) Leave(peerID string) {
	h.mu.Lock()
	p := h.peers[peerID]
	delete(h.peers, peerID)
	h.mu.Unlock()
	if p == nil {
		return
	}
	r, rt := p.room, p.router
	r.mu.Lock()
	if p.phase == peerGone {
		r.mu.Unlock()
		return
	}
	was := p.phase
	p.phase = peerGone
	p.settle()
	delete(r.peers, p.id)
	wasProducing := p.producing
	p.producing = false
	var actions []action
	if was.hasTransport() || rt.remote { // a relay also gives back the peer's reservation
		actions = append(actions, func(ctx context.Context) {
			h.warnUnlessGone(rt.client.CloseTransport(ctx, ipc.TransportRef{TransportID: p.id}), "transport close failed", "peer", p.id)
		})
	}
	for _, cl := range p.consumes {
		if cl.flow != nil && !cl.released {
			cl.released = true
			actions = append(actions, r.releaseFlowLocked(h, cl.flow)...)
		}
	}
	p.consumes = map[string]*claim{}
	if p.producerID != "" {
		actions = append(actions, r.dropProducerFlowsLocked(h, p.producerID)...)
	}
	routerEmpty := true
	for _, q := range r.peers {
		if q.router == rt {
			routerEmpty = false
			break
		}
	}
	if routerEmpty && !rt.state.out() && !rt.remote && r.carriesLocked(rt) {
		// A hub between relays: it stays while producers go through it.
		rt.state = routerHub
		routerEmpty = false
	}
	if routerEmpty && !rt.state.out() {
		rt.state = routerRemoved
		if r.routers[rt.ref] == rt {
			delete(r.routers, rt.ref)
		}
		actions = append(actions, r.closePairsOfLocked(h, rt)...)
		if rt.created.succeeded() { // else its creator closes it
			actions = append(actions, func(ctx context.Context) {
				h.warnUnlessGone(rt.client.CloseRouter(ctx, ipc.RouterRef{RouterID: rt.id}), "router close failed", "router", rt.id)
			})
		}
	}
	roomEmpty := r.emptiedLocked()
	if was.announced() {
		if wasProducing {
			r.broadcastLocked(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerRemoved}, ProducerID: p.producerID, PeerID: p.id}, nil)
		}
		r.broadcastLocked(wire.PeerLeft{Envelope: wire.Envelope{Type: wire.TypePeerLeft}, PeerID: p.id}, nil)
		h.emitLocked(r, webhook.ParticipantLeft, p)
	}
	h.finishedLocked(r, roomEmpty)
	r.mu.Unlock()

	if routerEmpty || roomEmpty {
		h.mu.Lock()
		if routerEmpty && h.routers[rt.id] == r {
			delete(h.routers, rt.id)
		}
		if roomEmpty && h.rooms[r.id] == r {
			delete(h.rooms, r.id)
		}
		h.mu.Unlock()
	}
	h.run(actions)
}

// Mute pauses or resumes a peer's producer on its router and on every router
// it is piped to, and tells the room. A peer still joining keeps the state
// for when it starts producing.
func (h *Host) Mute(peerID string, muted bool) error {
	p := h.peer(peerID)
	if p == nil {
		return ErrNotJoined
	}
	return h.setMuted(p, muted)
}

func (h *Host) setMuted(p *peer, muted bool) error {
	if !p.publish {
		return ErrNotProducer
	}
	p.muteMu.Lock()
	defer p.muteMu.Unlock()
	r := p.room
	r.mu.Lock()
	if p.phase == peerGone {
		r.mu.Unlock()
		return ErrNotJoined
	}
	p.muted = muted
	var targets []*router
	if p.producing {
		targets = append([]*router{p.router}, r.pauseFlowsLocked(p.producerID, muted)...)
	}
	if p.phase.announced() {
		r.broadcastLocked(wire.PeerMuted{Envelope: wire.Envelope{Type: wire.TypePeerMuted}, PeerID: p.id, Muted: muted}, nil)
	}
	r.mu.Unlock()
	ctx, cancel := h.callCtx()
	defer cancel()
	for _, rt := range targets {
		if err := rt.client.PauseProducer(ctx, ipc.ProducerPause{ProducerID: p.producerID, Paused: muted}); !isGone(err) {
			return err
		}
	}
	return nil
}

// WorkerLost retires every router on a dead worker and tells its peers to
// reconnect; their sessions' ends then clean up as ordinary leaves.
func (h *Host) WorkerLost(ref cluster.WorkerRef) {
	var sess []Session
	var gone []string
	for _, r := range h.roomList() {
		r.mu.Lock()
		rt := r.routers[ref]
		if rt != nil {
			rt.state = routerDead
			delete(r.routers, ref)
			gone = append(gone, rt.id)
			for _, p := range r.peers {
				if p.router == rt {
					sess = append(sess, p.sess)
				}
			}
		}
		r.mu.Unlock()
	}
	h.mu.Lock()
	for _, id := range gone {
		delete(h.routers, id)
	}
	h.mu.Unlock()
	h.log.Warn("worker lost; telling its peers to reconnect", "worker", ref, "peers", len(sess))
	for _, s := range sess {
		s.Reconnect(wire.ReconnectWorkerRestarted, 300)
	}
}
