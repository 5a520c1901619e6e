package control

import (
	"context"
	"errors"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// callTimeout bounds one request to a worker.
const callTimeout = 5 * time.Second

// room is one room's state. Its media lives on one router on one worker.
type room struct {
	id          string
	routerID    string
	worker      int
	routerReady chan struct{} // closed once router creation finished
	routerErr   error
	peers       map[string]*peer
}

// peer is one joined client. Its id is also its transport id on the worker.
type peer struct {
	id         string
	identity   string
	room       *room
	sess       *session
	publish    bool
	producerID string
	producing  bool
	muted      bool
	ready      bool // its transport exists on the worker
	gone       bool
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

// pickWorkerLocked returns the ready worker with the fewest peers, or -1.
func (c *Control) pickWorkerLocked() int {
	load := make([]int, len(c.slots))
	for _, r := range c.rooms {
		load[r.worker] += len(r.peers)
	}
	best := -1
	for i, s := range c.slots {
		if !s.status().Ready {
			continue
		}
		if best < 0 || load[i] < load[best] {
			best = i
		}
	}
	return best
}

// join places s's peer in its room, sends it the room state and starts negotiation.
func (c *Control) join(ctx context.Context, s *session, publish bool) (*peer, error) {
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return nil, errUnavailable
	}
	r := c.rooms[s.grant.Room]
	creator := false
	if r == nil {
		w := c.pickWorkerLocked()
		if w < 0 {
			c.mu.Unlock()
			return nil, ErrNoCapacity
		}
		r = &room{id: s.grant.Room, routerID: newID("RT_"), worker: w, routerReady: make(chan struct{}), peers: map[string]*peer{}}
		c.rooms[r.id] = r
		creator = true
	}
	p := &peer{id: newID("PA_"), identity: s.grant.Identity, room: r, sess: s, publish: publish}
	if publish {
		p.producerID = newID("PR_")
	}
	r.peers[p.id] = p
	c.peers[p.id] = p
	c.mu.Unlock()

	if creator {
		cctx, cancel := ctxCall()
		r.routerErr = c.slot(r.worker).call(cctx, ipc.MethodRouterCreate, ipc.RouterRef{RouterID: r.routerID}, nil)
		cancel()
		close(r.routerReady)
	} else {
		select {
		case <-r.routerReady:
		case <-ctx.Done():
			c.leave(p)
			return nil, ctx.Err()
		}
	}
	if r.routerErr != nil {
		c.leave(p)
		return nil, r.routerErr
	}

	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return nil, ErrRoomClosed
	}
	joined := wire.Joined{Envelope: wire.Envelope{Type: wire.TypeJoined}, Room: r.id, PeerID: p.id, Peers: []wire.PeerInfo{}}
	var others []*session
	for _, q := range r.peers {
		if q != p {
			joined.Peers = append(joined.Peers, q.info())
			others = append(others, q.sess)
		}
	}
	c.mu.Unlock()
	s.send(joined)
	for _, o := range others {
		o.send(wire.PeerEvent{Envelope: wire.Envelope{Type: wire.TypePeerJoined}, Peer: p.info()})
	}

	cctx, cancel := ctxCall()
	err := c.slot(r.worker).call(cctx, ipc.MethodTransportCreate, ipc.TransportCreate{RouterID: r.routerID, TransportID: p.id, ProducerID: p.producerID}, nil)
	cancel()
	if err != nil {
		c.leave(p)
		return nil, err
	}

	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return nil, ErrRoomClosed
	}
	p.ready = true
	var sources []*peer
	for _, q := range r.peers {
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

// consume asks the worker to forward q's producer to p.
func (c *Control) consume(r *room, p, q *peer) {
	cctx, cancel := ctxCall()
	defer cancel()
	err := c.slot(r.worker).call(cctx, ipc.MethodConsumerCreate, ipc.ConsumerRef{TransportID: p.id, ProducerID: q.producerID, StreamID: q.id}, nil)
	var re *ipc.RemoteError
	if err != nil && !(errors.As(err, &re) && (re.Code == ipc.CodeExists || re.Code == ipc.CodeNotFound)) {
		c.log.Warn("consumer create failed", "room", r.id, "peer", p.id, "producer", q.producerID, "err", err)
	}
}

// leave removes p from its room, closes its transport, and the router when the room empties.
func (c *Control) leave(p *peer) {
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
	empty := len(r.peers) == 0
	if empty && c.rooms[r.id] == r {
		delete(c.rooms, r.id)
	}
	c.mu.Unlock()

	for _, o := range others {
		if wasProducing {
			o.send(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerRemoved}, ProducerID: p.producerID, PeerID: p.id})
		}
		o.send(wire.PeerLeft{Envelope: wire.Envelope{Type: wire.TypePeerLeft}, PeerID: p.id})
	}
	cctx, cancel := ctxCall()
	defer cancel()
	_ = c.slot(r.worker).call(cctx, ipc.MethodTransportClose, ipc.TransportRef{TransportID: p.id}, nil)
	if empty {
		<-r.routerReady
		if r.routerErr == nil {
			_ = c.slot(r.worker).call(cctx, ipc.MethodRouterClose, ipc.RouterRef{RouterID: r.routerID}, nil)
		}
	}
}

// sessions lists the sessions of r's peers; the caller holds c.mu.
func (r *room) sessions() []*session {
	out := make([]*session, 0, len(r.peers))
	for _, q := range r.peers {
		out = append(out, q.sess)
	}
	return out
}

// setMuted pauses or resumes p's producer and tells the room.
func (c *Control) setMuted(p *peer, muted bool) error {
	if !p.publish {
		return ErrNotProducer
	}
	c.mu.Lock()
	if p.gone {
		c.mu.Unlock()
		return ErrNotJoined
	}
	p.muted = muted
	producing := p.producing
	all := p.room.sessions()
	c.mu.Unlock()
	if producing {
		cctx, cancel := ctxCall()
		err := c.slot(p.room.worker).call(cctx, ipc.MethodProducerPause, ipc.ProducerPause{ProducerID: p.producerID, Paused: muted}, nil)
		cancel()
		if err != nil {
			return err
		}
	}
	for _, o := range all {
		o.send(wire.PeerMuted{Envelope: wire.Envelope{Type: wire.TypePeerMuted}, PeerID: p.id, Muted: muted})
	}
	return nil
}

// onWorkerLost drops every room on a dead worker and tells its peers to reconnect.
func (c *Control) onWorkerLost(index int) {
	c.mu.Lock()
	var sess []*session
	for id, r := range c.rooms {
		if r.worker != index {
			continue
		}
		delete(c.rooms, id)
		for _, p := range r.peers {
			p.gone = true
			delete(c.peers, p.id)
			sess = append(sess, p.sess)
		}
		r.peers = map[string]*peer{}
	}
	c.mu.Unlock()
	c.log.Warn("worker lost; telling its peers to reconnect", "worker", index, "peers", len(sess))
	for _, s := range sess {
		s.reconnect("worker_restarted", 300)
	}
}
