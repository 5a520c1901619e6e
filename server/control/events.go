package control

import (
	"encoding/json"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// handleWorkerEvent runs on the worker's IPC read goroutine: it must not call the
// worker synchronously, so anything that does is started on its own goroutine.
func (c *Control) handleWorkerEvent(worker int, method string, raw json.RawMessage) {
	switch method {
	case ipc.EventOffer:
		var e ipc.SDP
		if json.Unmarshal(raw, &e) == nil {
			if s := c.sessionOf(e.TransportID); s != nil {
				s.send(wire.SessionDescription{Envelope: wire.Envelope{Type: wire.TypeOffer}, SDP: e.SDP})
			}
		}
	case ipc.EventCandidate:
		var e ipc.Candidate
		if json.Unmarshal(raw, &e) == nil {
			if s := c.sessionOf(e.TransportID); s != nil {
				s.send(wire.Candidate{Envelope: wire.Envelope{Type: wire.TypeCandidate}, Candidate: e.Candidate})
			}
		}
	case ipc.EventTransportState:
		var e ipc.TransportState
		if json.Unmarshal(raw, &e) == nil && e.State == "failed" {
			if s := c.sessionOf(e.TransportID); s != nil {
				go s.reconnect("ice_failed", 0)
			}
		}
	case ipc.EventProducerNew:
		var e ipc.ProducerEvent
		if json.Unmarshal(raw, &e) == nil {
			go c.onProducerNew(e)
		}
	case ipc.EventProducerClosed:
		var e ipc.ProducerEvent
		if json.Unmarshal(raw, &e) == nil {
			go c.onProducerClosed(e)
		}
	case ipc.EventSpeakers:
		var e ipc.Speakers
		if json.Unmarshal(raw, &e) == nil {
			c.onSpeakers(e)
		}
	default:
		c.log.Debug("unknown worker event", "worker", worker, "method", method)
	}
}

func (c *Control) sessionOf(peerID string) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.peers[peerID]; p != nil {
		return p.sess
	}
	return nil
}

// lockPeer returns the peer with its room's media changes locked (the caller
// unlocks p.room.opMu), or nil when no such peer is joined.
func (c *Control) lockPeer(id string) *peer {
	c.mu.Lock()
	p := c.peers[id]
	c.mu.Unlock()
	if p != nil {
		p.room.opMu.Lock()
	}
	return p
}

func (c *Control) onProducerNew(e ipc.ProducerEvent) {
	p := c.lockPeer(e.TransportID)
	if p == nil {
		return
	}
	r := p.room
	defer r.opMu.Unlock()
	c.mu.Lock()
	if p.gone || p.producerID != e.ProducerID || p.producing {
		c.mu.Unlock()
		return
	}
	p.producing = true
	p.levelExtID = e.LevelExtID
	muted := p.muted
	all := r.sessions()
	var targets []*peer
	for _, q := range r.sortedPeers() {
		if q != p && q.ready {
			targets = append(targets, q)
		}
	}
	c.mu.Unlock()
	if muted {
		_ = c.call(p.router.worker, ipc.MethodProducerPause, ipc.ProducerPause{ProducerID: p.producerID, Paused: true}, nil)
	}
	for _, s := range all {
		s.send(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerAdded}, ProducerID: p.producerID, PeerID: p.id})
	}
	for _, q := range targets {
		c.consume(r, q, p)
	}
}

// onProducerClosed handles a producer whose track ended while its peer stays
// (a peer that leaves is handled by leave).
func (c *Control) onProducerClosed(e ipc.ProducerEvent) {
	p := c.lockPeer(e.TransportID)
	if p == nil {
		return
	}
	r := p.room
	defer r.opMu.Unlock()
	c.mu.Lock()
	if p.gone || !p.producing || p.producerID != e.ProducerID {
		c.mu.Unlock()
		return
	}
	p.producing = false
	all := r.sessions()
	c.mu.Unlock()
	c.dropProducerFlows(r, p.producerID)
	for _, s := range all {
		s.send(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerRemoved}, ProducerID: p.producerID, PeerID: p.id})
	}
}

// onSpeakers relays one router's active speakers. Every router of a room sees all
// its producers (pipes carry them), so only the lowest-numbered worker's router
// speaks for the room.
func (c *Control) onSpeakers(e ipc.Speakers) {
	c.mu.Lock()
	var r *room
	for _, rr := range c.rooms {
		primary := -1
		match := false
		for w, x := range rr.routers {
			if primary < 0 || w < primary {
				primary = w
			}
			if x.id == e.RouterID {
				match = true
			}
		}
		if match {
			if rr.routers[primary].id != e.RouterID {
				c.mu.Unlock()
				return
			}
			r = rr
			break
		}
	}
	if r == nil {
		c.mu.Unlock()
		return
	}
	byProducer := map[string]string{}
	for _, p := range r.peers {
		if p.producerID != "" {
			byProducer[p.producerID] = p.id
		}
	}
	all := r.sessions()
	c.mu.Unlock()
	msg := wire.ActiveSpeakers{Envelope: wire.Envelope{Type: wire.TypeActiveSpeakers}, Speakers: []wire.Speaker{}}
	for _, s := range e.Speakers {
		if id, ok := byProducer[s.ProducerID]; ok {
			msg.Speakers = append(msg.Speakers, wire.Speaker{PeerID: id, Level: s.Level})
		}
	}
	c.mu.Lock()
	r.speakers = msg.Speakers
	c.mu.Unlock()
	for _, s := range all {
		s.send(msg)
	}
}
