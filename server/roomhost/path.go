package roomhost

import (
	"encoding/json"
	"net/netip"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// TURNAllocations tells which of a TURN server's transports a relayed
// address belongs to, so that a relayed path reads turn/udp, turn/tcp or
// turn/tls (wire.PathTURN*). The embedded TURN server implements it.
type TURNAllocations interface {
	// Protocol is "turn/udp", "turn/tcp" or "turn/tls" for an address the
	// server relays from; false when it is not one of its allocations.
	Protocol(relayed netip.AddrPort) (string, bool)
}

// peerPath is how a worker's path event reads for the admin API and
// metrics: a relay is resolved through turn (nil: plain "turn"). A udp pair
// whose remote is one of turn's relayed addresses is a TURN path too: the
// worker may have learnt the TURN candidate as peer-reflexive (RFC 8445
// §7.3.1.3) when its checks came before the client's trickled candidate.
func peerPath(e ipc.TransportPath, turn TURNAllocations) string {
	switch p := string(e.Path); p {
	case string(ipc.PathTCP):
		return wire.PathTCP
	case string(ipc.PathUDP), string(ipc.PathRelay):
		if turn != nil {
			if ap, err := netip.ParseAddrPort(e.Remote); err == nil {
				if proto, ok := turn.Protocol(ap); ok {
					return proto
				}
			}
		}
		if p == string(ipc.PathUDP) {
			return wire.PathUDP
		}
		return wire.PathTURN
	default:
		// Already resolved by the server that runs the worker (a router
		// lent to this room: see ResolvePath), or unknown.
		return p
	}
}

// ResolvePath rewrites a path event's path as this server's TURN server
// sees it (a relay becomes turn/udp, turn/tcp or turn/tls) before the
// event leaves for the room's owner: in a cluster a peer whose media is on
// a relay host goes through that host's TURN server, which the owner does
// not know. Other events, and raw, come back unchanged.
func (h *Host) ResolvePath(ev ipc.Event, raw []byte) (ipc.Event, []byte) {
	e, ok := ev.(ipc.PathEvent)
	if !ok || h.turn == nil {
		return ev, raw
	}
	path := peerPath(ipc.TransportPath(e), h.turn)
	if path == string(e.Path) {
		return ev, raw
	}
	e.Path = ipc.Path(path)
	b, err := json.Marshal(ipc.TransportPath(e))
	if err != nil {
		return ev, raw
	}
	return e, b
}

// onPath records the path a peer's media took: on connect, and when ICE
// moves it (a restart, a new network).
func (h *Host) onPath(e ipc.PathEvent) {
	p := h.peer(e.TransportID)
	if p == nil {
		return
	}
	path := peerPath(ipc.TransportPath(e), h.turn)
	r := p.room
	r.mu.Lock()
	if p.phase == peerGone || (p.path == path && p.remote == e.Remote) {
		r.mu.Unlock()
		return
	}
	was := p.path
	p.path, p.remote = path, e.Remote
	r.mu.Unlock()
	h.log.Info("peer media path", "room", r.id, "peer", p.id, "path", path, "remote", e.Remote, "was", was)
}

// PathCounts counts this server's peers by path (wire.PeerPaths, and ""
// for those whose media has not connected yet); every path is present.
func (h *Host) PathCounts() map[string]int {
	out := make(map[string]int, len(wire.PeerPaths)+1)
	for _, path := range wire.PeerPaths {
		out[path] = 0
	}
	out[""] = 0
	for _, r := range h.roomList() {
		r.mu.Lock()
		for _, p := range r.peers {
			out[p.path]++
		}
		r.mu.Unlock()
	}
	return out
}
