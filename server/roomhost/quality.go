package roomhost

import (
	"slices"
	"strings"
	"time"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// qualityEvery is how often a room hears every peer's connection quality
// (wire.ConnectionQuality) when no level changed: a client that joined since
// learns everyone's, and scores that drift within a level reach the page. A
// level change is sent at once, for that peer alone. The worker already
// reports a transport only when its level or score moves, or every 10 s.
const qualityEvery = 10 * time.Second

// onQuality records a peer's connection quality (the admin API shows it)
// and tells the room when its level changed, or when the room's periodic
// message is due.
func (h *Host) onQuality(e ipc.QualityEvent) {
	p := h.peer(e.TransportID)
	if p == nil {
		return
	}
	now := time.Now()
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.phase == peerGone {
		return
	}
	changed := p.quality.Level != e.Level
	p.quality = ipc.TransportQuality(e)
	switch {
	case now.Sub(r.qualitySentAt) >= qualityEvery:
		r.qualitySentAt = now
		r.broadcastLocked(r.qualityLocked(), nil)
	case changed:
		r.broadcastLocked(wire.ConnectionQuality{Envelope: wire.Envelope{Type: wire.TypeQuality},
			Peers: []wire.PeerQuality{{PeerID: p.id, Level: e.Level, Score: e.Score}}}, nil)
	}
}

// qualityLocked is the connection quality of every peer measured so far.
func (r *room) qualityLocked() wire.ConnectionQuality {
	msg := wire.ConnectionQuality{Envelope: wire.Envelope{Type: wire.TypeQuality}, Peers: []wire.PeerQuality{}}
	for _, p := range r.peers {
		if p.quality.Level != "" {
			msg.Peers = append(msg.Peers, wire.PeerQuality{PeerID: p.id, Level: p.quality.Level, Score: p.quality.Score})
		}
	}
	slices.SortFunc(msg.Peers, func(a, b wire.PeerQuality) int { return strings.Compare(a.PeerID, b.PeerID) })
	return msg
}

// adminQuality fills ap's quality from p's last report (under the room's lock).
func (p *peer) adminQuality(ap *wire.AdminPeer) {
	q := p.quality
	ap.Quality, ap.Score, ap.Loss, ap.JitterMs, ap.RTTMs = q.Level, q.Score, q.Loss, q.JitterMs, q.RTTMs
}
