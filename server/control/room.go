package control

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// callTimeout bounds one request to a worker.
const callTimeout = 5 * time.Second

// room is one room's state. Its media may be spread over routers on several
// workers, linked by pipes.
type room struct {
	id      string
	created time.Time
	// opMu serialises this room's media changes (joins, leaves, producers, pipes),
	// so each sees the state the previous one left; rooms proceed in parallel.
	opMu sync.Mutex

	// Guarded by Control.mu:
	routers  map[int]*roomRouter // live routers by worker
	peers    map[string]*peer
	closed   bool
	speakers []wire.Speaker

	// Guarded by opMu:
	pipes map[pairKey]*pipePair
}

// roomRouter is the room's router on one worker.
type roomRouter struct {
	id      string
	worker  int
	created bool // router.create succeeded (opMu)
	dead    bool // its worker died (Control.mu)
}

// peer is one joined client. Its id is also its transport id on the worker.
type peer struct {
	id         string
	identity   string
	room       *room
	router     *roomRouter
	sess       *session
	publish    bool
	producerID string
	levelExtID uint8
	producing  bool
	muted      bool
	ready      bool // its transport exists on the worker
	announced  bool // its joined message is queued: room events may follow
	gone       bool
	joinedAt   time.Time
	// flows are the remote producers this peer consumes through pipes; each holds
	// one reference on its pipe flow (opMu).
	flows map[string]bool
}

func (p *peer) info() wire.PeerInfo {
	pi := wire.PeerInfo{ID: p.id, Identity: p.identity, Publishing: p.producing, Muted: p.muted}
	if p.producing {
		pi.ProducerID = p.producerID
	}
	return pi
}

func (c *Control) slot(i int) *workerSlot { return c.slots[i] }

func ctxCall() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

func (c *Control) call(worker int, method string, params, out any) error {
	ctx, cancel := ctxCall()
	defer cancel()
	return c.slot(worker).call(ctx, method, params, out)
}

// isGone reports worker errors that mean the object is already gone.
func isGone(err error) bool {
	var re *ipc.RemoteError
	return err == nil || errors.Is(err, ErrWorkerDown) || errors.Is(err, ipc.ErrClosed) ||
		(errors.As(err, &re) && re.Code == ipc.CodeNotFound)
}

// lockRoom returns the room named id, created if needed, with its opMu held.
func (c *Control) lockRoom(id string) (*room, error) {
	for {
		c.mu.Lock()
		if c.draining {
			c.mu.Unlock()
			return nil, errUnavailable
		}
		r := c.rooms[id]
		if r == nil {
			r = &room{id: id, created: time.Now(), routers: map[int]*roomRouter{}, peers: map[string]*peer{}, pipes: map[pairKey]*pipePair{}}
			c.rooms[id] = r
		}
		c.mu.Unlock()
		r.opMu.Lock()
		c.mu.Lock()
		closed := r.closed
		c.mu.Unlock()
		if !closed {
			return r, nil
		}
		r.opMu.Unlock() // emptied and removed while we waited: take the new one
	}
}

// join places s's peer in its room, sends it the room state and starts negotiation.
func (c *Control) join(s *session, publish bool) (*peer, error) {
	r, err := c.lockRoom(s.grant.Room)
	if err != nil {
		return nil, err
	}
	defer r.opMu.Unlock()

	p := &peer{id: newID("PA_"), identity: s.grant.Identity, room: r, sess: s, publish: publish, joinedAt: time.Now(), flows: map[string]bool{}}
	if publish {
		p.producerID = newID("PR_")
	}
	c.mu.Lock()
	rr, err := c.placeLocked(r, p)
	if err != nil {
		if len(r.peers) == 0 && c.rooms[r.id] == r {
			delete(c.rooms, r.id)
			r.closed = true
		}
		c.mu.Unlock()
		c.metrics.noCapacity.Inc()
		return nil, err
	}
	c.peers[p.id] = p
	c.mu.Unlock()

	if !rr.created {
		err := c.call(rr.worker, ipc.MethodRouterCreate, ipc.RouterCreate{RouterID: rr.id, MaxForwardedSpeakers: c.cfg.Room.MaxForwardedSpeakers}, nil)
		if err != nil {
			c.leaveLocked(p)
			return nil, err
		}
		rr.created = true
	}

	c.mu.Lock()
	joined := wire.Joined{Envelope: wire.Envelope{Type: wire.TypeJoined}, Room: r.id, PeerID: p.id, Peers: []wire.PeerInfo{}}
	for _, q := range r.sortedPeers() {
		if q != p {
			joined.Peers = append(joined.Peers, q.info())
		}
	}
	others := r.sessions()
	// Queued under c.mu, so no room event reaches the peer before its joined.
	s.send(joined)
	p.announced = true
	c.mu.Unlock()
	for _, o := range others {
		o.send(wire.PeerEvent{Envelope: wire.Envelope{Type: wire.TypePeerJoined}, Peer: p.info()})
	}

	err = c.call(rr.worker, ipc.MethodTransportCreate, ipc.TransportCreate{RouterID: rr.id, TransportID: p.id, ProducerID: p.producerID}, nil)
	if err != nil {
		c.leaveLocked(p)
		return nil, err
	}

	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return nil, ErrRoomClosed
	}
	p.ready = true
	var sources []*peer
	for _, q := range r.sortedPeers() {
		if q != p && q.producing {
			sources = append(sources, q)
		}
	}
	c.mu.Unlock()
	for _, q := range sources {
		c.consume(r, p, q)
	}
	return p, nil
}

// sortedPeers lists peers by join time; the caller holds Control.mu.
func (r *room) sortedPeers() []*peer {
	out := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].joinedAt.Before(out[j].joinedAt) })
	return out
}

// consume makes listener p receive producer q, piping q to p's router if needed.
// The caller holds r.opMu.
func (c *Control) consume(r *room, p, q *peer) {
	if p.gone || q.gone || p.flows[q.producerID] {
		return
	}
	remote := q.router != p.router
	if remote {
		if err := c.ensureFlow(r, q, p.router); err != nil {
			c.log.Warn("pipe failed", "room", r.id, "producer", q.producerID, "from", q.router.worker, "to", p.router.worker, "err", err)
			return
		}
		p.flows[q.producerID] = true
	}
	err := c.call(p.router.worker, ipc.MethodConsumerCreate, ipc.ConsumerRef{TransportID: p.id, ProducerID: q.producerID, StreamID: q.id}, nil)
	var re *ipc.RemoteError
	if err != nil && !(errors.As(err, &re) && re.Code == ipc.CodeExists) {
		c.log.Warn("consumer create failed", "room", r.id, "peer", p.id, "producer", q.producerID, "err", err)
		if remote {
			delete(p.flows, q.producerID)
			c.releaseFlow(r, q.producerID, q.router, p.router)
		}
	}
}

// leave removes p from its room.
func (c *Control) leave(p *peer) {
	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return
	}
	r := p.room
	c.mu.Unlock()
	r.opMu.Lock()
	defer r.opMu.Unlock()
	c.leaveLocked(p)
}

// leaveLocked removes p, its transport, its pipe flows and, when they empty, its
// router and the room. The caller holds r.opMu.
func (c *Control) leaveLocked(p *peer) {
	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return
	}
	p.gone = true
	r := p.room
	delete(r.peers, p.id)
	delete(c.peers, p.id)
	wasProducing := p.producing
	p.producing = false
	others := r.sessions()
	routerEmpty := true
	for _, q := range r.peers {
		if q.router == p.router {
			routerEmpty = false
		}
	}
	if routerEmpty && r.routers[p.router.worker] == p.router {
		delete(r.routers, p.router.worker)
	}
	if len(r.peers) == 0 && c.rooms[r.id] == r {
		delete(c.rooms, r.id)
		r.closed = true
	}
	c.mu.Unlock()

	for _, o := range others {
		if wasProducing {
			o.send(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerRemoved}, ProducerID: p.producerID, PeerID: p.id})
		}
		o.send(wire.PeerLeft{Envelope: wire.Envelope{Type: wire.TypePeerLeft}, PeerID: p.id})
	}
	if err := c.call(p.router.worker, ipc.MethodTransportClose, ipc.TransportRef{TransportID: p.id}, nil); !isGone(err) {
		c.log.Warn("transport close failed", "peer", p.id, "err", err)
	}
	if p.producerID != "" {
		c.dropProducerFlows(r, p.producerID)
	}
	for producerID := range p.flows {
		if src := c.producerRouter(r, producerID); src != nil {
			c.releaseFlow(r, producerID, src, p.router)
		}
	}
	p.flows = map[string]bool{}
	if routerEmpty {
		c.closePairsOf(r, p.router)
		if p.router.created {
			if err := c.call(p.router.worker, ipc.MethodRouterClose, ipc.RouterRef{RouterID: p.router.id}, nil); !isGone(err) {
				c.log.Warn("router close failed", "router", p.router.id, "err", err)
			}
		}
	}
}

// producerRouter is the router a producer comes from; the caller holds r.opMu.
func (c *Control) producerRouter(r *room, producerID string) *roomRouter {
	for _, pp := range r.pipes {
		for k, f := range pp.flows {
			if k.producerID == producerID {
				return f.from
			}
		}
	}
	return nil
}

// sessions lists the sessions that room events go to: peers that have been sent
// their joined. The caller holds c.mu.
func (r *room) sessions() []*session {
	out := make([]*session, 0, len(r.peers))
	for _, q := range r.peers {
		if q.announced {
			out = append(out, q.sess)
		}
	}
	return out
}

// allSessions lists every peer's session, joining or joined; the caller holds c.mu.
func (r *room) allSessions() []*session {
	out := make([]*session, 0, len(r.peers))
	for _, q := range r.peers {
		out = append(out, q.sess)
	}
	return out
}

// setMuted pauses or resumes p's producer on its router and on every router it
// is piped to, and tells the room.
func (c *Control) setMuted(p *peer, muted bool) error {
	if !p.publish {
		return ErrNotProducer
	}
	r := p.room
	r.opMu.Lock()
	defer r.opMu.Unlock()
	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return ErrNotJoined
	}
	p.muted = muted
	producing := p.producing
	all := r.sessions()
	c.mu.Unlock()
	if producing {
		workers := append([]int{p.router.worker}, c.flowTargets(r, p.producerID)...)
		for _, w := range workers {
			if err := c.call(w, ipc.MethodProducerPause, ipc.ProducerPause{ProducerID: p.producerID, Paused: muted}, nil); !isGone(err) {
				return err
			}
		}
	}
	for _, o := range all {
		o.send(wire.PeerMuted{Envelope: wire.Envelope{Type: wire.TypePeerMuted}, PeerID: p.id, Muted: muted})
	}
	return nil
}

// onWorkerLost retires every router on a dead worker and tells its peers to
// reconnect; their sessions' ends then clean up as ordinary leaves.
func (c *Control) onWorkerLost(index int) {
	c.mu.Lock()
	var sess []*session
	for _, r := range c.rooms {
		rr := r.routers[index]
		if rr == nil {
			continue
		}
		rr.dead = true
		delete(r.routers, index)
		for _, p := range r.peers {
			if p.router == rr {
				sess = append(sess, p.sess)
			}
		}
	}
	c.mu.Unlock()
	c.log.Warn("worker lost; telling its peers to reconnect", "worker", index, "peers", len(sess))
	for _, s := range sess {
		s.reconnect("worker_restarted", 300)
	}
}
