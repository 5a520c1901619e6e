package roomhost

import (
	"fmt"
	"time"

	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/wire"
)

// A peer that joins and takes its offer but never connects its media (no
// answer, no reachable candidate, no DTLS) would hold its transport and its
// place on the worker for as long as its WebSocket lives. Its clock starts at
// its first offer: a listener in a room nobody publishes to is offered
// nothing and waits as long as it likes.

// armMediaTimer starts p's clock at its first offer.
func (h *Host) armMediaTimer(p *peer) {
	if h.mediaTimeout <= 0 {
		return
	}
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.phase >= peerConnected || p.mediaTimer != nil {
		return
	}
	p.mediaTimer = time.AfterFunc(h.mediaTimeout, func() { h.mediaTimedOut(p) })
}

// mediaUp stops p's clock for good.
func (h *Host) mediaUp(p *peer) {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.phase == peerReady {
		p.phase = peerConnected
	}
	if p.mediaTimer != nil {
		p.mediaTimer.Stop()
	}
}

func (h *Host) mediaTimedOut(p *peer) {
	r := p.room
	r.mu.Lock()
	ended := p.phase >= peerConnected
	r.mu.Unlock()
	if ended {
		return
	}
	h.onMediaTimeout()
	setLeaveReason(p, webhook.ReasonTimedOut)
	h.log.Info("peer's media never connected; ending it", "peer", p.id, "after", h.mediaTimeout)
	p.sess.End(wire.CodeJoinTimeout, fmt.Sprintf("media did not connect within %s of the offer (signal.join_timeout): no answer, no reachable ICE candidate, or no DTLS handshake", h.mediaTimeout))
}
