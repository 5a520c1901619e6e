package roomhost

import (
	"context"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// HandleEvent takes a worker's event. Events with one key (a transport, a
// router) are handled in the order they came, on a goroutine of their own,
// so a worker's IPC reader is never held up and never calls back into its
// worker.
func (h *Host) HandleEvent(from cluster.WorkerRef, ev ipc.Event) {
	h.lanes.do(ev.Key(), func() { h.handleEvent(from, ev) })
}

func (h *Host) handleEvent(from cluster.WorkerRef, ev ipc.Event) {
	switch e := ev.(type) {
	case ipc.OfferEvent:
		if p := h.peer(e.TransportID); p != nil {
			h.armMediaTimer(p)
			p.sess.Send(wire.SessionDescription{Envelope: wire.Envelope{Type: wire.TypeOffer}, SDP: e.SDP})
		}
	case ipc.CandidateEvent:
		if p := h.peer(e.TransportID); p != nil {
			p.sess.Send(wire.Candidate{Envelope: wire.Envelope{Type: wire.TypeCandidate}, Candidate: e.Candidate})
		}
	case ipc.StateEvent:
		if p := h.peer(e.TransportID); p != nil {
			switch e.State {
			case ipc.ConnConnected:
				h.mediaUp(p)
			case ipc.ConnFailed:
				p.sess.Reconnect(wire.ReconnectICEFailed, 0)
			}
		}
	case ipc.PathEvent:
		h.onPath(e)
	case ipc.QualityEvent:
		h.onQuality(e)
	case ipc.ProducerNewEvent:
		h.onProducerNew(e)
	case ipc.ProducerClosedEvent:
		h.onProducerClosed(e)
	case ipc.SpeakersEvent:
		h.onSpeakers(e)
	default:
		h.log.Debug("unhandled worker event", "worker", from, "event", ev)
	}
}

func (h *Host) onProducerNew(e ipc.ProducerNewEvent) {
	p := h.peer(e.TransportID)
	if p == nil {
		return
	}
	r := p.room
	p.muteMu.Lock()
	r.mu.Lock()
	if p.phase == peerGone || p.producerID != e.ProducerID || p.producing {
		r.mu.Unlock()
		p.muteMu.Unlock()
		return
	}
	p.producing = true
	p.levelExtID = e.LevelExtID
	muted := p.muted
	r.broadcastLocked(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerAdded}, ProducerID: p.producerID, PeerID: p.id}, nil)
	var targets []*peer
	for _, q := range r.sortedPeersLocked() {
		if q != p && q.phase.hasTransport() {
			targets = append(targets, q)
		}
	}
	r.mu.Unlock()
	if muted {
		ctx, cancel := h.callCtx()
		h.warnUnlessGone(p.router.client.PauseProducer(ctx, ipc.ProducerPause{ProducerID: p.producerID, Paused: true}), "producer pause failed", "producer", p.producerID)
		cancel()
	}
	p.muteMu.Unlock()
	for _, q := range targets {
		h.consume(r, q, p)
	}
}

// onProducerClosed handles a producer whose track ended while its peer stays
// (a peer that leaves is handled by Leave).
func (h *Host) onProducerClosed(e ipc.ProducerClosedEvent) {
	p := h.peer(e.TransportID)
	if p == nil {
		return
	}
	r := p.room
	r.mu.Lock()
	if p.phase == peerGone || !p.producing || p.producerID != e.ProducerID {
		r.mu.Unlock()
		return
	}
	p.producing = false
	actions := r.dropProducerFlowsLocked(h, p.producerID)
	r.broadcastLocked(wire.ProducerEvent{Envelope: wire.Envelope{Type: wire.TypeProducerRemoved}, ProducerID: p.producerID, PeerID: p.id}, nil)
	r.mu.Unlock()
	h.run(actions)
}

// onSpeakers relays one router's active speakers. Every router of a room sees
// all its producers (pipes carry them), so only the primary speaks for the room.
func (h *Host) onSpeakers(e ipc.SpeakersEvent) {
	h.mu.Lock()
	r := h.routers[e.RouterID]
	h.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if primary := r.primaryLocked(); primary == nil || primary.id != e.RouterID {
		return
	}
	msg := wire.ActiveSpeakers{Envelope: wire.Envelope{Type: wire.TypeActiveSpeakers}, Speakers: []wire.Speaker{}}
	byProducer := make(map[string]string, len(r.peers))
	for _, p := range r.peers {
		if p.producerID != "" {
			byProducer[p.producerID] = p.id
		}
	}
	for _, s := range e.Speakers {
		if id, ok := byProducer[s.ProducerID]; ok {
			msg.Speakers = append(msg.Speakers, wire.Speaker{PeerID: id, Level: s.Level})
		}
	}
	r.speakers = msg.Speakers
	r.broadcastLocked(msg, nil)
}

// transportOf waits, while the peer's join is being set up, until its
// transport exists (a client may answer or trickle before the server is done).
func (h *Host) transportOf(ctx context.Context, peerID string) (*peer, error) {
	p := h.peer(peerID)
	if p == nil {
		return nil, ErrNotJoined
	}
	select {
	case <-p.settled:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	if !p.phase.hasTransport() {
		return nil, ErrNotJoined
	}
	return p, nil
}

// Answer applies a peer's SDP answer on its transport.
func (h *Host) Answer(ctx context.Context, peerID, sdp string) error {
	p, err := h.transportOf(ctx, peerID)
	if err != nil {
		return err
	}
	return p.router.client.Answer(ctx, ipc.SDP{TransportID: p.id, SDP: sdp})
}

// RestartICE asks the worker for an ICE-restart offer on the peer's
// transport, for a client whose network changed or whose ICE went
// disconnected; the offer reaches the client as any offer does.
func (h *Host) RestartICE(ctx context.Context, peerID string) error {
	p, err := h.transportOf(ctx, peerID)
	if err != nil {
		return err
	}
	return p.router.client.RestartICE(ctx, ipc.TransportRef{TransportID: p.id})
}

// AddCandidate adds a peer's trickled ICE candidate on its transport.
func (h *Host) AddCandidate(ctx context.Context, peerID string, c wire.ICECandidate) error {
	p, err := h.transportOf(ctx, peerID)
	if err != nil {
		return err
	}
	return p.router.client.AddCandidate(ctx, ipc.Candidate{TransportID: p.id, Candidate: c})
}
