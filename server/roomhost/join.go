package roomhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/wire"
)

// JoinRequest is a client asking to join a room.
type JoinRequest struct {
	Room     string
	Identity string
	Publish  bool
	Session  Session
}

// Admission is a placed peer, before its media is set up.
type Admission struct {
	PeerID string
	Worker cluster.WorkerRef
}

// Admit places a joining peer on a worker and reserves its load; it does no
// I/O, so a session can admit in its read loop and connect in the
// background. From here on Leave and Mute work on the peer, even while
// Connect is still setting it up.
func (h *Host) Admit(req JoinRequest) (Admission, error) {
	p := &peer{id: newID("PA_"), identity: req.Identity, sess: req.Session, publish: req.Publish,
		joinedAt: time.Now(), consumes: map[string]*claim{}, settled: make(chan struct{})}
	if req.Publish {
		p.producerID = newID("PR_")
	}
	adm, err := h.admitLocal(req, p)
	if errors.Is(err, ErrNoCapacity) && h.borrow != nil {
		return h.admitRelay(req, p)
	}
	return adm, err
}

// admitLocal places p on a worker of this server.
func (h *Host) admitLocal(req JoinRequest, p *peer) (Admission, error) {
	h.place.mu.Lock()
	defer h.place.mu.Unlock()
	for {
		r, err := h.openRoom(req.Room)
		if err != nil {
			return Admission{}, err
		}
		loads := h.Loads()
		r.mu.Lock()
		if r.state == roomClosed {
			r.mu.Unlock()
			continue // emptied since: take the new one
		}
		if r.state == roomClosing {
			r.mu.Unlock()
			return Admission{}, ErrRoomClosed
		}
		dec, err := placement.Place(r.placementLocked(), p.publish, h.place.workers.Candidates(), loads, h.place.lim)
		if err != nil {
			empty := r.emptiedLocked()
			h.finishedLocked(r, empty)
			r.mu.Unlock()
			if empty {
				h.forgetRoom(r)
			}
			if h.borrow == nil {
				h.place.onNoCap()
			}
			return Admission{}, err
		}
		rt := r.routers[dec.Ref]
		if rt == nil {
			client := h.place.workers.Client(dec.Ref)
			if client == nil {
				r.mu.Unlock()
				return Admission{}, fmt.Errorf("worker %s: %w", dec.Ref, ipc.ErrWorkerDown)
			}
			rt = &router{id: newID("RT_"), ref: dec.Ref, client: client, created: newFuture[struct{}]()}
			r.routers[dec.Ref] = rt
			p.createsRouter = true
		}
		return h.seatLocked(r, p, rt), nil
	}
}

// seatLocked puts admitted peer p on router rt of room r, whose lock it
// releases, and indexes both.
func (h *Host) seatLocked(r *room, p *peer, rt *router) Admission {
	p.room, p.router = r, rt
	r.peers[p.id] = p
	if rt.state == routerHub {
		rt.state = routerLive // it serves peers again
	}
	r.mu.Unlock()
	h.mu.Lock()
	h.peers[p.id] = p
	h.routers[rt.id] = r
	h.mu.Unlock()
	return Admission{PeerID: p.id, Worker: rt.ref}
}

// openRoom returns the live room named id, made if there is none.
func (h *Host) openRoom(id string) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return nil, ErrUnavailable
	}
	if h.claims != nil && !h.claims[id] {
		return nil, ErrNotOwner
	}
	if h.claims != nil && h.fencedLocked() {
		return nil, ErrFenced
	}
	r := h.rooms[id]
	if r != nil {
		r.mu.Lock()
		closed := r.state == roomClosed
		r.mu.Unlock()
		if !closed {
			return r, nil
		}
	}
	r = newRoom(id)
	h.rooms[id] = r
	return r, nil
}

func (h *Host) forgetRoom(r *room) {
	h.mu.Lock()
	if h.rooms[r.id] == r {
		delete(h.rooms, r.id)
	}
	h.mu.Unlock()
}

// Connect sets up an admitted peer's media: its router (made by the first
// peer placed there, waited for by the rest), its joined message and the
// room's peer_joined, its transport, and a consumer of every producer. It
// holds the room's lock only between worker calls. When it fails or ctx
// ends, the peer has left.
func (h *Host) Connect(ctx context.Context, peerID string) error {
	p := h.peer(peerID)
	if p == nil {
		return ErrNotJoined
	}
	if err := h.connect(ctx, p); err != nil {
		h.Leave(peerID)
		return err
	}
	return nil
}

func (h *Host) connect(ctx context.Context, p *peer) error {
	r, rt := p.room, p.router
	if err := h.awaitRouter(ctx, r, rt, p.createsRouter); err != nil {
		return err
	}

	r.mu.Lock()
	if p.phase == peerGone {
		r.mu.Unlock()
		return ErrRoomClosed
	}
	joined := wire.Joined{Envelope: wire.Envelope{Type: wire.TypeJoined}, Room: r.id, PeerID: p.id, Peers: []wire.PeerInfo{}}
	for _, q := range r.sortedPeersLocked() {
		if q != p && q.phase.announced() {
			joined.Peers = append(joined.Peers, q.info())
		}
	}
	p.sess.Send(joined)
	p.phase = peerAnnounced
	if !r.started {
		r.started = true
		h.emitLocked(r, webhook.RoomStarted, nil)
	}
	h.emitLocked(r, webhook.ParticipantJoined, p)
	r.broadcastLocked(wire.PeerEvent{Envelope: wire.Envelope{Type: wire.TypePeerJoined}, Peer: p.info()}, p)
	r.mu.Unlock()

	err := rt.client.CreateTransport(ctx, ipc.TransportCreate{RouterID: rt.id, TransportID: p.id, ProducerID: p.producerID})
	if err != nil {
		h.closeTransportQuietly(rt, p.id) // the worker may have made it before the caller gave up
		r.mu.Lock()
		gone := p.phase == peerGone
		r.mu.Unlock()
		if gone && ctx.Err() == nil {
			return ErrRoomClosed // it left meanwhile, and took the router with it
		}
		return err
	}
	r.mu.Lock()
	if p.phase == peerGone {
		r.mu.Unlock()
		h.closeTransportQuietly(rt, p.id) // Leave left it to us: it was not there yet
		return ErrRoomClosed
	}
	p.phase = peerReady
	p.settle()
	var sources []*peer
	for _, q := range r.sortedPeersLocked() {
		if q != p && q.producing {
			sources = append(sources, q)
		}
	}
	r.mu.Unlock()
	for _, q := range sources {
		h.consume(r, p, q)
	}
	return nil
}

// awaitRouter creates rt on its worker (when this peer placed it) or waits
// until whoever does is answered.
func (h *Host) awaitRouter(ctx context.Context, r *room, rt *router, create bool) error {
	if create {
		err := rt.client.CreateRouter(ctx, ipc.RouterCreate{RouterID: rt.id, MaxForwardedSpeakers: h.place.lim.MaxForwardedSpeakers})
		r.mu.Lock()
		rt.created.set(struct{}{}, err)
		removed := rt.state.out()
		if err != nil && !removed {
			rt.state = routerRemoved
			if r.routers[rt.ref] == rt {
				delete(r.routers, rt.ref)
			}
		}
		r.mu.Unlock()
		if err != nil || removed {
			// Either it failed (it may still exist if the answer was lost) or
			// everyone left while it was made: it serves nobody.
			h.closeRouterQuietly(rt)
		}
		if err != nil {
			return fmt.Errorf("router create on worker %s: %w", rt.ref, err)
		}
		return nil
	}
	select {
	case <-rt.created.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if _, err := rt.created.result(); err != nil {
		return fmt.Errorf("router create on worker %s: %w", rt.ref, err)
	}
	return nil
}

func (h *Host) closeTransportQuietly(rt *router, id string) {
	ctx, cancel := h.callCtx()
	defer cancel()
	_ = rt.client.CloseTransport(ctx, ipc.TransportRef{TransportID: id})
}

func (h *Host) closeRouterQuietly(rt *router) {
	ctx, cancel := h.callCtx()
	defer cancel()
	_ = rt.client.CloseRouter(ctx, ipc.RouterRef{RouterID: rt.id})
}

// consume makes listener p receive producer q, piping q to p's router if it
// is elsewhere. The claim is taken under the lock, so a producer reaching a
// listener from two sides (its producer.new, the listener's join) is
// consumed once.
func (h *Host) consume(r *room, p, q *peer) {
	r.mu.Lock()
	if q.phase == peerGone || !q.producing || !p.phase.hasTransport() || p.consumes[q.producerID] != nil {
		r.mu.Unlock()
		return
	}
	cl := &claim{}
	p.consumes[q.producerID] = cl
	var path []flowStep
	if q.router != p.router {
		cl.flow, path = r.refPathLocked(q, p.router)
	}
	producerID, from := q.producerID, q.router.ref
	r.mu.Unlock()

	if cl.flow != nil {
		if err := h.awaitPath(r, path); err != nil {
			h.log.Warn("pipe failed", "room", r.id, "producer", producerID, "from", from, "to", p.router.ref, "err", err)
			h.dropClaim(r, p, producerID, cl)
			return
		}
	}
	ctx, cancel := h.callCtx()
	defer cancel()
	err := p.router.client.Consume(ctx, ipc.ConsumerRef{TransportID: p.id, ProducerID: producerID, StreamID: q.id})
	if err != nil && !isExists(err) {
		if !errors.Is(err, ipc.ErrWorkerDown) {
			h.log.Warn("consumer create failed", "room", r.id, "peer", p.id, "producer", producerID, "err", err)
		}
		h.dropClaim(r, p, producerID, cl)
	}
}

// dropClaim forgets a claim that did not work out and gives back its flow
// reference, unless someone (a leave, the producer's end) did already.
func (h *Host) dropClaim(r *room, p *peer, producerID string, cl *claim) {
	r.mu.Lock()
	if p.consumes[producerID] == cl {
		delete(p.consumes, producerID)
	}
	var actions []action
	if cl.flow != nil && !cl.released {
		cl.released = true
		actions = r.releaseFlowLocked(h, cl.flow)
	}
	r.mu.Unlock()
	h.run(actions)
}
