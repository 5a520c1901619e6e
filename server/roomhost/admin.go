package roomhost

import (
	"fmt"
	"slices"
	"strings"

	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/wire"
)

// Rooms describes every room, by name.
func (h *Host) Rooms() []wire.AdminRoom {
	rooms := h.roomList()
	out := make([]wire.AdminRoom, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		ar := r.summaryLocked()
		ar.Pipes = len(r.pipesLocked())
		r.mu.Unlock()
		out = append(out, ar)
	}
	return out
}

func (h *Host) room(name string) (*room, error) {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r == nil {
		return nil, notFoundError{fmt.Sprintf("room %q", name)}
	}
	return r, nil
}

// Room describes one room with its peers and pipes.
func (h *Host) Room(name string) (wire.AdminRoomDetail, error) {
	r, err := h.room(name)
	if err != nil {
		return wire.AdminRoomDetail{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := wire.AdminRoomDetail{AdminRoom: r.summaryLocked(), PeerList: []wire.AdminPeer{}, PipeList: r.pipesLocked()}
	d.Pipes = len(d.PipeList)
	for _, p := range r.sortedPeersLocked() {
		ap := wire.AdminPeer{ID: p.id, Identity: p.identity, Worker: p.router.ref.Index, Router: p.router.id,
			Publishing: p.producing, Muted: p.muted, JoinedAt: p.joinedAt, Path: p.path, RemoteAddress: p.remote}
		if p.router.remote {
			ap.Server = string(p.router.ref.Server)
		}
		if p.producing {
			ap.ProducerID = p.producerID
		}
		p.adminQuality(&ap)
		d.PeerList = append(d.PeerList, ap)
	}
	return d, nil
}

// Pipes describes every room's pipes.
func (h *Host) Pipes() []wire.AdminPipe {
	out := []wire.AdminPipe{}
	for _, r := range h.roomList() {
		r.mu.Lock()
		out = append(out, r.pipesLocked()...)
		r.mu.Unlock()
	}
	return out
}

func (r *room) summaryLocked() wire.AdminRoom {
	ar := wire.AdminRoom{ID: r.id, Peers: len(r.peers), CreatedAt: r.created, Speakers: []wire.Speaker{}}
	routers := []wire.AdminRouter{}
	perRouter := map[*router]int{}
	for _, p := range r.peers {
		perRouter[p.router]++
		if p.publish {
			ar.Publishers++
		}
	}
	for _, rt := range r.routers {
		ar := wire.AdminRouter{ID: rt.id, Worker: rt.ref.Index, Peers: perRouter[rt]}
		if rt.remote {
			ar.Server = string(rt.ref.Server)
		}
		routers = append(routers, ar)
	}
	slices.SortFunc(routers, func(a, b wire.AdminRouter) int {
		if a.Server != b.Server {
			return strings.Compare(a.Server, b.Server)
		}
		return a.Worker - b.Worker
	})
	ar.Routers = routers
	for _, sp := range r.speakers {
		if p := r.peers[sp.PeerID]; p != nil {
			sp.Identity = p.identity
		}
		ar.Speakers = append(ar.Speakers, sp)
	}
	return ar
}

// pipesLocked describes the room's built pipes.
func (r *room) pipesLocked() []wire.AdminPipe {
	out := []wire.AdminPipe{}
	for _, pp := range r.pipes {
		if !pp.built.succeeded() {
			continue
		}
		a, b := pp.ends[0], pp.ends[1]
		addrs, _ := pp.built.result()
		if b.ref.Less(a.ref) {
			a, b = b, a
			addrs[0], addrs[1] = addrs[1], addrs[0]
		}
		ap := wire.AdminPipe{ID: pp.id, Room: r.id, Workers: []int{a.ref.Index, b.ref.Index}, Routers: []string{a.id, b.id},
			Addrs: addrs[:], Flows: []wire.AdminPipeFlow{}, SRTP: pp.srtp}
		if a.ref.Server != b.ref.Server {
			ap.Servers = []string{string(a.ref.Server), string(b.ref.Server)}
		}
		for fk, f := range pp.flows {
			if f.built.succeeded() {
				ap.Flows = append(ap.Flows, wire.AdminPipeFlow{ProducerID: fk.producerID, From: f.from.ref.Index, To: fk.to.ref.Index, SSRC: f.ssrc, Consumers: f.refs})
			}
		}
		slices.SortFunc(ap.Flows, func(x, y wire.AdminPipeFlow) int { return strings.Compare(x.ProducerID, y.ProducerID) })
		out = append(out, ap)
	}
	slices.SortFunc(out, func(x, y wire.AdminPipe) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// findPeer looks a peer up by id, or by identity.
func (h *Host) findPeer(roomName, peer string) (*peer, error) {
	r, err := h.room(roomName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[peer]; p != nil {
		return p, nil
	}
	for _, q := range r.sortedPeersLocked() {
		if q.identity == peer {
			return q, nil
		}
	}
	return nil, notFoundError{fmt.Sprintf("peer %q in room %q", peer, roomName)}
}

// PeerRef names a peer in an admin answer.
type PeerRef struct{ ID, Identity string }

// Kick ends a peer's session with the kicked code; its leave follows.
func (h *Host) Kick(roomName, peer string) (PeerRef, error) {
	p, err := h.findPeer(roomName, peer)
	if err != nil {
		return PeerRef{}, err
	}
	setLeaveReason(p, webhook.ReasonKicked)
	p.sess.End(wire.CodeKicked, "an administrator removed you from this room")
	h.log.Info("peer kicked by admin", "room", roomName, "peer", p.id)
	return PeerRef{p.id, p.identity}, nil
}

// MutePeer mutes or unmutes a peer found by id or identity.
func (h *Host) MutePeer(roomName, peer string, muted bool) (PeerRef, error) {
	p, err := h.findPeer(roomName, peer)
	if err != nil {
		return PeerRef{}, err
	}
	return PeerRef{p.id, p.identity}, h.setMuted(p, muted)
}

// CloseRoom ends every session in a room with the room_closed code. The
// room refuses joins from then on, until its last peer has left.
func (h *Host) CloseRoom(name string) (int, error) {
	r, err := h.room(name)
	if err != nil {
		return 0, err
	}
	sess := r.closeToJoins(webhook.ReasonKicked)
	for _, s := range sess {
		s.End(wire.CodeRoomClosed, "an administrator closed this room")
	}
	h.log.Info("room closed by admin", "room", name, "peers", len(sess))
	return len(sess), nil
}
