package roomhost

import (
	"errors"
	"slices"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
)

// The owner side of relays: a join that fits on no worker here gets a
// router on another server. The peer keeps its signalling here, its
// transport is made on the relay's worker, and the relay router is one more
// router of the room, piped to the others like a local one.

// admitRelay asks the relays for room for p; it runs without place.mu, as it
// waits for another server's answer.
func (h *Host) admitRelay(req JoinRequest, p *peer) (Admission, error) {
	for {
		r, err := h.openRoom(req.Room)
		if err != nil {
			return Admission{}, err
		}
		r.mu.Lock()
		if r.state == roomClosed {
			r.mu.Unlock()
			continue
		}
		if r.state == roomClosing {
			r.mu.Unlock()
			return Admission{}, ErrRoomClosed
		}
		var prefer []cluster.ServerID
		publishers := 0
		for _, q := range r.peers {
			if q.publish {
				publishers++
			}
		}
		for ref, rt := range r.routers {
			if rt.remote && !slices.Contains(prefer, ref.Server) {
				prefer = append(prefer, ref.Server)
			}
		}
		// Hold the room open while the relays are asked: a peer counted
		// here keeps it from being emptied and forgotten meanwhile.
		r.pending++
		r.mu.Unlock()
		slices.Sort(prefer)

		ctx, cancel := h.callCtx()
		rel, err := h.borrow.Place(ctx, RelayRequest{Room: req.Room, Peer: p.id, Publish: p.publish, Publishers: publishers, Prefer: prefer})
		cancel()

		r.mu.Lock()
		r.pending--
		if err != nil {
			empty := r.emptiedLocked()
			h.finishedLocked(r, empty)
			r.mu.Unlock()
			if empty {
				h.forgetRoom(r)
			}
			if errors.Is(err, ErrNoCapacity) {
				h.place.onNoCap()
			}
			return Admission{}, err
		}
		if r.state != roomOpen {
			r.mu.Unlock()
			h.releaseRelay(rel.Client, p.id)
			return Admission{}, ErrRoomClosed
		}
		rt := r.routers[rel.Ref]
		if rt == nil || rt.id != rel.RouterID {
			// The relay made it before it answered.
			rt = &router{id: rel.RouterID, ref: rel.Ref, client: rel.Client, created: resolvedFuture(struct{}{}, nil), remote: true}
			r.routers[rel.Ref] = rt
		}
		h.log.Debug("peer relayed", "room", r.id, "peer", p.id, "worker", rel.Ref)
		return h.seatLocked(r, p, rt), nil
	}
}

// releaseRelay gives a reservation back that will not be used.
func (h *Host) releaseRelay(c ipc.WorkerClient, peerID string) {
	ctx, cancel := h.callCtx()
	defer cancel()
	_ = c.CloseTransport(ctx, ipc.TransportRef{TransportID: peerID})
}

// ServerLost retires every router of the rooms here that lives on server id
// (a relay that died) and tells its peers to reconnect, and closes the
// routers this server lent to id's rooms.
func (h *Host) ServerLost(id cluster.ServerID) {
	refs := map[cluster.WorkerRef]bool{}
	for _, r := range h.roomList() {
		r.mu.Lock()
		for ref := range r.routers {
			if ref.Server == id {
				refs[ref] = true
			}
		}
		r.mu.Unlock()
	}
	for ref := range refs {
		h.WorkerLost(ref)
	}
	h.lender.DropOwner(id)
}

// RelayDraining sends the peers whose media is on a relay router of server id
// (which began to drain) a move instruction back to this host, at url: they
// join again (placed here or on another relay, never a draining one) while
// their old session and media stay up for cluster.move_grace, so the relay
// empties without their audio stopping. It returns how many were told.
func (h *Host) RelayDraining(id cluster.ServerID, url string, self cluster.ServerID) int {
	var sess []Session
	for _, r := range h.roomList() {
		r.mu.Lock()
		for _, p := range r.peers {
			if p.router != nil && p.router.remote && p.router.ref.Server == id {
				sess = append(sess, p.sess)
			}
		}
		r.mu.Unlock()
	}
	for _, s := range sess {
		s.Move(url, string(self))
	}
	if len(sess) > 0 {
		h.log.Info("relay draining: its peers rejoin here", "relay", id, "peers", len(sess))
	}
	return len(sess)
}

// RelayServers lists the servers that relay rooms of this one.
func (h *Host) RelayServers() []cluster.ServerID {
	var out []cluster.ServerID
	for _, r := range h.roomList() {
		r.mu.Lock()
		for ref, rt := range r.routers {
			if rt.remote && !slices.Contains(out, ref.Server) {
				out = append(out, ref.Server)
			}
		}
		r.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

// PipeRemotes names, for every pipe end here that leads to another server,
// that server: the owner's side of its rooms' pipes to relays, and the lent
// routers' ends (which lead to their owner).
func (h *Host) PipeRemotes() map[string]cluster.ServerID {
	out := map[string]cluster.ServerID{}
	for _, r := range h.roomList() {
		r.mu.Lock()
		for _, pp := range r.pipes {
			a, b := pp.ends[0], pp.ends[1]
			switch {
			case a.remote && !b.remote:
				out[pp.id] = a.ref.Server
			case b.remote && !a.remote:
				out[pp.id] = b.ref.Server
			}
		}
		r.mu.Unlock()
	}
	h.lender.pipeRemotes(out)
	return out
}
