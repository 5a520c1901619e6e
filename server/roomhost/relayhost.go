package roomhost

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
)

// The relay side: routers this server lends to rooms other servers own. It
// keeps no room state beyond those routers, the peers reserved on them (so
// its load model, its placement and its heartbeats count what it carries)
// and the pipe ends made on them. The owner works the routers through
// worker calls (RelayCheck, RelayDone) and gets their events
// (RelayOwnerOf).

type relayKey struct {
	owner cluster.ServerID
	room  string
}

type relayRoom struct {
	key relayKey
	// far is how many of the room's publishers are elsewhere (on the owner
	// or another relay), as of the owner's last request.
	far     int
	routers map[cluster.WorkerRef]*relayRouter
	peers   map[string]relayPeer // by peer id, which is its transport id
	pipes   map[string]*relayRouter
}

type relayRouter struct {
	id    string
	ref   cluster.WorkerRef
	ready chan struct{}
	err   error
	gone  bool
}

type relayPeer struct {
	router  *relayRouter
	publish bool
}

type relayIndex struct {
	rooms    map[relayKey]*relayRoom
	byRouter map[string]*relayRoom
	byPeer   map[string]*relayRoom
	byPipe   map[string]*relayRoom
}

func newRelayIndex() relayIndex {
	return relayIndex{rooms: map[relayKey]*relayRoom{}, byRouter: map[string]*relayRoom{},
		byPeer: map[string]*relayRoom{}, byPipe: map[string]*relayRoom{}}
}

// placement is the relay room as the load model sees it: its routers and
// reserved peers, and the publishers on the owner's side as peers of one
// router on the owner (not a candidate here), whose producers the model
// pipes into the relay routers like any other router's.
func (rr *relayRoom) placement() placement.Room {
	out := placement.Room{}
	for ref := range rr.routers {
		out.Routers = append(out.Routers, ref)
	}
	slices.SortFunc(out.Routers, compareRefs)
	for _, p := range rr.peers {
		out.Peers = append(out.Peers, placement.Peer{Router: p.router.ref, Publish: p.publish})
	}
	if rr.far > 0 {
		owner := cluster.WorkerRef{Server: rr.key.owner, Index: -1}
		out.Routers = append(out.Routers, owner)
		out.External = &owner
		for range rr.far {
			out.Peers = append(out.Peers, placement.Peer{Router: owner, Publish: true})
		}
	}
	return out
}

func compareRefs(a, b cluster.WorkerRef) int {
	if a.Less(b) {
		return -1
	}
	if b.Less(a) {
		return 1
	}
	return 0
}

// relayPlacementsLocked is every relay room as placement sees it; relayMu held.
func (h *Host) relayPlacementsLocked() []placement.Room {
	keys := slices.SortedFunc(maps.Keys(h.relay.rooms), func(a, b relayKey) int {
		if a.owner != b.owner {
			return cmp.Compare(a.owner, b.owner)
		}
		return cmp.Compare(a.room, b.room)
	})
	out := make([]placement.Room, 0, len(keys))
	for _, k := range keys {
		out = append(out, h.relay.rooms[k].placement())
	}
	return out
}

// PlaceRelay reserves room for one more peer of a room another server owns,
// on a router of that room here (made if needed, at most one per worker),
// and answers where it is. It refuses with ErrNoCapacity when no worker here
// fits the peer, as a local join would be refused.
func (h *Host) PlaceRelay(ctx context.Context, req cluster.RelayPlace) (cluster.RelayPlaced, error) {
	if req.Room == "" || req.Peer == "" || req.Owner == "" {
		return cluster.RelayPlaced{}, fmt.Errorf("relay place: room, owner and peer are required")
	}
	h.placeMu.Lock()
	if h.Draining() {
		h.placeMu.Unlock()
		return cluster.RelayPlaced{}, ErrUnavailable
	}
	loads := h.Loads()
	key := relayKey{req.Owner, req.Room}
	h.relayMu.Lock()
	if rr := h.relay.byPeer[req.Peer]; rr != nil && rr.key == key { // asked again
		rt := rr.peers[req.Peer].router
		h.relayMu.Unlock()
		h.placeMu.Unlock()
		return h.awaitRelayRouter(ctx, rt)
	}
	rr := h.relay.rooms[key]
	if rr == nil {
		rr = &relayRoom{key: key, routers: map[cluster.WorkerRef]*relayRouter{}, peers: map[string]relayPeer{}, pipes: map[string]*relayRouter{}}
	}
	here := 0
	for _, p := range rr.peers {
		if p.publish {
			here++
		}
	}
	prev := rr.far
	rr.far = max(req.Publishers-here, 0)
	dec, err := placement.Place(rr.placement(), req.Publish, h.workers.Candidates(), loads, h.lim)
	if err != nil {
		rr.far = prev
		h.relayMu.Unlock()
		h.placeMu.Unlock()
		h.onNoCap()
		return cluster.RelayPlaced{}, err
	}
	client := h.workers.Client(dec.Ref)
	if client == nil {
		h.relayMu.Unlock()
		h.placeMu.Unlock()
		return cluster.RelayPlaced{}, fmt.Errorf("worker %s: %w", dec.Ref, ipc.ErrWorkerDown)
	}
	h.relay.rooms[key] = rr
	rt := rr.routers[dec.Ref]
	create := rt == nil
	if create {
		rt = &relayRouter{id: newID("RT_"), ref: dec.Ref, ready: make(chan struct{})}
		rr.routers[dec.Ref] = rt
		h.relay.byRouter[rt.id] = rr
	}
	rr.peers[req.Peer] = relayPeer{router: rt, publish: req.Publish}
	h.relay.byPeer[req.Peer] = rr
	h.relayMu.Unlock()
	h.placeMu.Unlock()

	if create {
		err := client.CreateRouter(ctx, ipc.RouterCreate{RouterID: rt.id, MaxForwardedSpeakers: req.MaxForwardedSpeakers})
		h.relayMu.Lock()
		rt.err = err
		close(rt.ready)
		h.relayMu.Unlock()
		if err != nil {
			h.dropRelayRouter(rr, rt, true)
			return cluster.RelayPlaced{}, fmt.Errorf("relay router create on worker %s: %w", rt.ref, err)
		}
		h.log.Info("relay router made", "room", req.Room, "owner", req.Owner, "router", rt.id, "worker", rt.ref)
	}
	return h.awaitRelayRouter(ctx, rt)
}

func (h *Host) awaitRelayRouter(ctx context.Context, rt *relayRouter) (cluster.RelayPlaced, error) {
	select {
	case <-rt.ready:
	case <-ctx.Done():
		return cluster.RelayPlaced{}, ctx.Err()
	}
	h.relayMu.Lock()
	err := rt.err
	h.relayMu.Unlock()
	if err != nil {
		return cluster.RelayPlaced{}, err
	}
	return cluster.RelayPlaced{Worker: rt.ref, RouterID: rt.id}, nil
}

// dropRelayRouter forgets a relay router and the peers reserved on it, and
// closes it on its worker unless its creation failed.
func (h *Host) dropRelayRouter(rr *relayRoom, rt *relayRouter, failed bool) {
	h.relayMu.Lock()
	if rt.gone {
		h.relayMu.Unlock()
		return
	}
	rt.gone = true
	h.forgetRelayRouterLocked(rr, rt)
	h.relayMu.Unlock()
	if failed {
		return
	}
	if client := h.workers.Client(rt.ref); client != nil {
		ctx, cancel := h.callCtx()
		defer cancel()
		h.warnUnlessGone(client.CloseRouter(ctx, ipc.RouterRef{RouterID: rt.id}), "relay router close failed", "router", rt.id)
	}
}

func (h *Host) forgetRelayRouterLocked(rr *relayRoom, rt *relayRouter) {
	if rr.routers[rt.ref] == rt {
		delete(rr.routers, rt.ref)
	}
	delete(h.relay.byRouter, rt.id)
	for id, p := range rr.peers {
		if p.router == rt {
			delete(rr.peers, id)
			delete(h.relay.byPeer, id)
		}
	}
	for id, prt := range rr.pipes {
		if prt == rt {
			delete(rr.pipes, id)
			delete(h.relay.byPipe, id)
		}
	}
	if len(rr.routers) == 0 && h.relay.rooms[rr.key] == rr {
		delete(h.relay.rooms, rr.key)
	}
}

// relayRefs are the ids a worker request names.
type relayRefs struct {
	RouterID    string `json:"router_id"`
	TransportID string `json:"transport_id"`
	PipeID      string `json:"pipe_id"`
	ListenIP    string `json:"listen_ip"`
}

// RelayCheck vets a worker request another server sent for its relay
// routers here: it may touch only the routers, the reserved peers'
// transports and the pipe ends of rooms that server owns here. It returns
// the params to send on (a pipe end listens on this server's pipe address,
// whatever the owner asked).
func (h *Host) RelayCheck(from cluster.ServerID, call cluster.WorkerCall) (json.RawMessage, error) {
	var refs relayRefs
	if len(call.Params) > 0 {
		if err := json.Unmarshal(call.Params, &refs); err != nil {
			return nil, &ipc.RemoteError{Code: ipc.CodeBadRequest, Message: call.Method + ": " + err.Error()}
		}
	}
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	owned := func(rr *relayRoom) bool { return rr != nil && rr.key.owner == from }
	refused := func(what, id string) error {
		return &ipc.RemoteError{Code: ipc.CodeNotFound, Message: fmt.Sprintf("%s %s is not relayed here for %s", what, id, from)}
	}
	switch call.Method {
	case ipc.MethodRouterClose:
		if !owned(h.relay.byRouter[refs.RouterID]) {
			return nil, refused("router", refs.RouterID)
		}
	case ipc.MethodTransportCreate:
		rr := h.relay.byRouter[refs.RouterID]
		if !owned(rr) || h.relay.byPeer[refs.TransportID] != rr || rr.peers[refs.TransportID].router.id != refs.RouterID {
			return nil, refused("transport", refs.TransportID)
		}
	case ipc.MethodTransportAnswer, ipc.MethodTransportCand, ipc.MethodTransportClose, ipc.MethodConsumerCreate, ipc.MethodConsumerClose:
		if !owned(h.relay.byPeer[refs.TransportID]) {
			return nil, refused("transport", refs.TransportID)
		}
	case ipc.MethodPipeCreate:
		rr := h.relay.byRouter[refs.RouterID]
		if !owned(rr) {
			return nil, refused("router", refs.RouterID)
		}
		if _, dup := h.relay.byPipe[refs.PipeID]; !dup {
			rr.pipes[refs.PipeID] = rr.router(refs.RouterID)
			h.relay.byPipe[refs.PipeID] = rr
		}
		var p ipc.PipeCreate
		_ = json.Unmarshal(call.Params, &p)
		p.ListenIP = h.xpipeIP
		return json.Marshal(p)
	case ipc.MethodPipeConnect, ipc.MethodPipeConsume, ipc.MethodPipeUnconsume, ipc.MethodPipeProduce, ipc.MethodPipeUnproduce, ipc.MethodPipeClose:
		if !owned(h.relay.byPipe[refs.PipeID]) {
			return nil, refused("pipe", refs.PipeID)
		}
	case ipc.MethodProducerPause:
		if !h.relaysFor(from) {
			return nil, refused("producer", "")
		}
	default:
		return nil, &ipc.RemoteError{Code: ipc.CodeUnknownMethod, Message: call.Method + " is not served to relays"}
	}
	return call.Params, nil
}

// router is the relay room's router with id, nil if it has none.
func (rr *relayRoom) router(id string) *relayRouter {
	for _, rt := range rr.routers {
		if rt.id == id {
			return rt
		}
	}
	return nil
}

func (h *Host) relaysFor(owner cluster.ServerID) bool {
	for k := range h.relay.rooms {
		if k.owner == owner {
			return true
		}
	}
	return false
}

// RelayDone updates the relay state after a worker request of the owner's
// was served: a closed transport gives its reservation back (the router
// closes with its last one), a closed router or pipe end is forgotten.
func (h *Host) RelayDone(from cluster.ServerID, call cluster.WorkerCall) {
	var refs relayRefs
	_ = json.Unmarshal(call.Params, &refs)
	switch call.Method {
	case ipc.MethodTransportClose:
		h.ReleaseRelayPeer(from, refs.TransportID)
	case ipc.MethodRouterClose:
		h.relayMu.Lock()
		rr := h.relay.byRouter[refs.RouterID]
		if rr != nil && rr.key.owner == from {
			if rt := rr.router(refs.RouterID); rt != nil && !rt.gone {
				rt.gone = true
				h.forgetRelayRouterLocked(rr, rt)
			}
		}
		h.relayMu.Unlock()
	case ipc.MethodPipeClose:
		h.relayMu.Lock()
		if rr := h.relay.byPipe[refs.PipeID]; rr != nil && rr.key.owner == from {
			delete(rr.pipes, refs.PipeID)
			delete(h.relay.byPipe, refs.PipeID)
		}
		h.relayMu.Unlock()
	}
}

// ReleaseRelayPeer gives back a peer's reservation; a router left with none
// is closed.
func (h *Host) ReleaseRelayPeer(owner cluster.ServerID, peerID string) {
	h.relayMu.Lock()
	rr := h.relay.byPeer[peerID]
	if rr == nil || rr.key.owner != owner {
		h.relayMu.Unlock()
		return
	}
	rt := rr.peers[peerID].router
	delete(rr.peers, peerID)
	delete(h.relay.byPeer, peerID)
	empty := true
	for _, p := range rr.peers {
		if p.router == rt {
			empty = false
			break
		}
	}
	ready := isClosed(rt.ready)
	h.relayMu.Unlock()
	if empty && ready {
		h.dropRelayRouter(rr, rt, false)
	}
}

// RelayOwnerOf names the owner of the room a worker event is about, when it
// is about a relay router here.
func (h *Host) RelayOwnerOf(ev ipc.Event) (cluster.ServerID, bool) {
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	var rr *relayRoom
	switch e := ev.(type) {
	case ipc.SpeakersEvent:
		rr = h.relay.byRouter[e.RouterID]
	case ipc.ProducerNewEvent:
		rr = h.relay.byRouter[e.RouterID]
	case ipc.ProducerClosedEvent:
		rr = h.relay.byRouter[e.RouterID]
	default:
		rr = h.relay.byPeer[ev.Key()]
	}
	if rr == nil {
		return "", false
	}
	return rr.key.owner, true
}

// DropRelaysOf closes every relay router lent to owner (it died, or gave
// its rooms up) and returns how many there were.
func (h *Host) DropRelaysOf(owner cluster.ServerID) int {
	type item struct {
		rr *relayRoom
		rt *relayRouter
	}
	var items []item
	h.relayMu.Lock()
	for k, rr := range h.relay.rooms {
		if k.owner != owner {
			continue
		}
		for _, rt := range rr.routers {
			if isClosed(rt.ready) {
				items = append(items, item{rr, rt})
			}
		}
	}
	h.relayMu.Unlock()
	for _, it := range items {
		h.dropRelayRouter(it.rr, it.rt, false)
	}
	if len(items) > 0 {
		h.log.Warn("relay routers closed: their owner is gone", "owner", owner, "routers", len(items))
	}
	return len(items)
}

// RelayOwners lists the servers this one relays rooms for.
func (h *Host) RelayOwners() []cluster.ServerID {
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	seen := map[cluster.ServerID]bool{}
	for k := range h.relay.rooms {
		seen[k.owner] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// RelayCounts is what this server carries for other servers' rooms: rooms,
// routers and reserved peers.
func (h *Host) RelayCounts() (rooms, routers, peers int) {
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	for _, rr := range h.relay.rooms {
		routers += len(rr.routers)
		peers += len(rr.peers)
	}
	return len(h.relay.rooms), routers, peers
}

// Relays reports whether this server relays room for owner.
func (h *Host) Relays(owner cluster.ServerID, room string) bool {
	h.relayMu.Lock()
	defer h.relayMu.Unlock()
	return h.relay.rooms[relayKey{owner, room}] != nil
}

// PipeRemotes names, for every pipe end here that leads to another server,
// that server: the owner's side of its rooms' pipes to relays, and the
// relay routers' ends (which lead to their owner).
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
	h.relayMu.Lock()
	for id, rr := range h.relay.byPipe {
		out[id] = rr.key.owner
	}
	h.relayMu.Unlock()
	return out
}
