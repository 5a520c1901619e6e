package roomhost

import (
	"slices"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/wire"
)

// Claim makes this server the room's host: joins to it are admitted.
func (h *Host) Claim(room string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.claims != nil {
		h.claims[room] = true
	}
}

// Owns reports whether joins to room are admitted here.
func (h *Host) Owns(room string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.claims == nil || h.claims[room] && !h.fencedLocked()
}

// Claimed lists the rooms this server hosts, by name.
func (h *Host) Claimed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.claims))
	for r := range h.claims {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Release gives a room up (the API moved it, or closed it): no more joins,
// and its peers are told to ask the API again (reason wire.ReconnectMoved,
// unless the API gave another) and closed. It returns how many peers were
// told.
func (h *Host) Release(room string, reason wire.ReconnectReason) int {
	n, found := h.giveUp(room, func(s Session) { s.Reconnect(reason, 0) })
	if found {
		h.log.Info("room released", "room", room, "reason", reason, "peers", n)
	}
	return n
}

// giveUp unclaims a room, closes it to joins and sends each of its peers on
// with tell; it returns how many there were, and whether the room is here.
func (h *Host) giveUp(room string, tell func(Session)) (int, bool) {
	h.mu.Lock()
	if h.claims != nil {
		delete(h.claims, room)
	}
	r := h.rooms[room]
	h.mu.Unlock()
	if r == nil {
		return 0, false
	}
	sess := r.closeToJoins(webhook.ReasonMoved)
	for _, s := range sess {
		tell(s)
	}
	return len(sess), true
}

// Unclaim forgets a claim without touching the room's peers (a room the API
// closed is also closed with CloseRoom).
func (h *Host) Unclaim(room string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.claims != nil {
		delete(h.claims, room)
	}
}

// Move gives a room up to the server at url: no more joins here, and every
// peer is told to join there now (with a fresh token) and closed, so the
// room empties here as they go. It returns how many peers were told.
func (h *Host) Move(room, url, server string) int {
	n, found := h.giveUp(room, func(s Session) { s.Move(url, server) })
	if found {
		h.log.Info("room moved", "room", room, "to", url, "peers", n)
	}
	return n
}

// RoomLoads is, for each room this server hosts, the load units the room
// would take whole on one router: what a new home must have spare for it
// (pipes it would need there are what cluster.move_margin is for).
func (h *Host) RoomLoads() map[string]int {
	names := h.Claimed()
	out := make(map[string]int, len(names))
	for _, name := range names {
		h.mu.Lock()
		r := h.rooms[name]
		h.mu.Unlock()
		if r == nil {
			out[name] = 0
			continue
		}
		r.mu.Lock()
		whole := placement.Room{Routers: []cluster.WorkerRef{{}}}
		for _, p := range r.peers {
			whole.Peers = append(whole.Peers, placement.Peer{Publish: p.publish})
		}
		r.mu.Unlock()
		units := 0
		for _, l := range placement.Model([]placement.Room{whole}, h.place.lim.MaxForwardedSpeakers) {
			units += l.Units()
		}
		out[name] = units
	}
	return out
}
