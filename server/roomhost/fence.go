package roomhost

import (
	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/wire"
)

// SetLease fences this server's rooms with held (the cluster agent's lease,
// cluster.Lease): while it reports false, the server admits no join to any
// room (ErrFenced, a wrong_server that sends clients back to the API), so a
// server that may have been declared dead never admits joins beside the
// room's new home. Its claims are kept: when the lease is renewed and the
// API did not re-home the rooms, they are served here again.
func (h *Host) SetLease(held func() bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lease = held
}

// fencedLocked reports whether the lease lapsed; h.mu is held.
func (h *Host) fencedLocked() bool { return h.lease != nil && !h.lease() }

// SendAway tells every peer of this server's rooms to ask the API again
// (reason) and closes the rooms to joins, keeping the claims: what a server
// whose lease lapsed long enough to be declared dead does, so that its
// peers follow the rooms to their new homes. It returns how many peers were
// told.
func (h *Host) SendAway(reason wire.ReconnectReason) int {
	n := 0
	for _, r := range h.roomList() {
		for _, s := range r.closeToJoins(webhook.ReasonMoved) {
			s.Reconnect(reason, 0)
			n++
		}
	}
	return n
}
