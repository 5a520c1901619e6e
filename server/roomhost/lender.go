package roomhost

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
)

// Lender is the relay side of a server: the routers it lends to rooms other
// servers own. It keeps no room state beyond those routers, the peers
// reserved on them (so the load model, the placements and the heartbeats
// count what it carries) and the pipe ends made on them. The owner works the
// routers through worker calls (Check, Done) and gets their events
// (OwnerOf). It shares its Host's placer: a join and a relay request place
// on the same workers under the same lock.
type Lender struct {
	log     *slog.Logger
	place   *placer
	pipeIP  string
	timeout time.Duration

	// mu guards lent; it is never held with the host's mu or a room's mu.
	mu   sync.Mutex
	lent lentIndex
}

type lenderParams struct {
	log *slog.Logger
	// place is the host's placer.
	place *placer
	// pipeIP is where the lent routers' pipe ends listen, whatever the
	// owner asked: this server's cluster pipe address.
	pipeIP  string
	timeout time.Duration
}

func newLender(p lenderParams) *Lender {
	return &Lender{log: p.log, place: p.place, pipeIP: p.pipeIP, timeout: p.timeout,
		lent: lentIndex{rooms: map[lentKey]*lentRoom{}, byRouter: map[string]*lentRoom{},
			byPeer: map[string]*lentRoom{}, byPipe: map[string]*lentRoom{}}}
}

type lentKey struct {
	owner cluster.ServerID
	room  string
}

// lentRoom is what one owner's room has here.
type lentRoom struct {
	key lentKey
	// far is how many of the room's publishers are elsewhere (on the owner
	// or another relay), as of the owner's last request.
	far     int
	routers map[cluster.WorkerRef]*lentRouter
	peers   map[string]lentPeer // by peer id, which is its transport id
	pipes   map[string]*lentRouter
}

type lentRouter struct {
	id  string
	ref cluster.WorkerRef
	// placed is set once its worker answered router.create.
	placed *future[cluster.RelayPlaced]
	gone   bool
}

type lentPeer struct {
	router  *lentRouter
	publish bool
	// try is the owner's request that reserved it, the latest when it asked
	// again.
	try string
}

type lentIndex struct {
	rooms    map[lentKey]*lentRoom
	byRouter map[string]*lentRoom
	byPeer   map[string]*lentRoom
	byPipe   map[string]*lentRoom
}

// placement is the lent room as the load model sees it: its routers and
// reserved peers, and the publishers on the owner's side as peers of one
// router on the owner (not a candidate here), whose producers the model
// pipes into the lent routers like any other router's.
func (rr *lentRoom) placement() placement.Room {
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

// placements is every lent room as placement sees it.
func (l *Lender) placements() []placement.Room {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(l.lent.rooms), func(a, b lentKey) int {
		if a.owner != b.owner {
			return cmp.Compare(a.owner, b.owner)
		}
		return cmp.Compare(a.room, b.room)
	})
	out := make([]placement.Room, 0, len(keys))
	for _, k := range keys {
		out = append(out, l.lent.rooms[k].placement())
	}
	return out
}

// Place reserves room for one more peer of a room another server owns, on
// a router of that room here (made if needed, at most one per worker), and
// answers where it is. It refuses with ErrNoCapacity when no worker here
// fits the peer, as a local join would be refused.
func (l *Lender) Place(ctx context.Context, req cluster.RelayPlace) (cluster.RelayPlaced, error) {
	if req.Room == "" || req.Peer == "" || req.Owner == "" {
		return cluster.RelayPlaced{}, fmt.Errorf("relay place: room, owner and peer are required")
	}
	l.place.mu.Lock()
	if l.place.draining() {
		l.place.mu.Unlock()
		return cluster.RelayPlaced{}, ErrUnavailable
	}
	loads := l.place.loads()
	key := lentKey{req.Owner, req.Room}
	l.mu.Lock()
	if rr := l.lent.byPeer[req.Peer]; rr != nil && rr.key == key { // asked again
		lp := rr.peers[req.Peer]
		lp.try = req.Try
		rr.peers[req.Peer] = lp
		l.mu.Unlock()
		l.place.mu.Unlock()
		return l.answer(ctx, req, lp.router)
	}
	rr := l.lent.rooms[key]
	if rr == nil {
		rr = &lentRoom{key: key, routers: map[cluster.WorkerRef]*lentRouter{}, peers: map[string]lentPeer{}, pipes: map[string]*lentRouter{}}
	}
	here := 0
	for _, p := range rr.peers {
		if p.publish {
			here++
		}
	}
	prev := rr.far
	rr.far = max(req.Publishers-here, 0)
	dec, err := l.place.place(rr.placement(), req.Publish, loads)
	if err != nil {
		rr.far = prev
		l.mu.Unlock()
		l.place.mu.Unlock()
		l.place.onNoCap()
		return cluster.RelayPlaced{}, err
	}
	client := l.place.workers.Client(dec.Ref)
	if client == nil {
		l.mu.Unlock()
		l.place.mu.Unlock()
		return cluster.RelayPlaced{}, fmt.Errorf("worker %s: %w", dec.Ref, ipc.ErrWorkerDown)
	}
	l.lent.rooms[key] = rr
	rt := rr.routers[dec.Ref]
	create := rt == nil
	if create {
		rt = &lentRouter{id: newID("RT_"), ref: dec.Ref, placed: newFuture[cluster.RelayPlaced]()}
		rr.routers[dec.Ref] = rt
		l.lent.byRouter[rt.id] = rr
	}
	rr.peers[req.Peer] = lentPeer{router: rt, publish: req.Publish, try: req.Try}
	l.lent.byPeer[req.Peer] = rr
	l.mu.Unlock()
	l.place.mu.Unlock()

	if create {
		err := client.CreateRouter(ctx, ipc.RouterCreate{RouterID: rt.id, MaxForwardedSpeakers: req.MaxForwardedSpeakers})
		l.mu.Lock()
		rt.placed.set(cluster.RelayPlaced{Worker: rt.ref, RouterID: rt.id}, err)
		l.mu.Unlock()
		if err != nil {
			l.dropRouter(rr, rt, true)
			return cluster.RelayPlaced{}, fmt.Errorf("relay router create on worker %s: %w", rt.ref, err)
		}
		l.log.Info("relay router made", "room", req.Room, "owner", req.Owner, "router", rt.id, "worker", rt.ref)
	}
	return l.answer(ctx, req, rt)
}

// answer waits for the peer's router and says where it is. When the owner
// has stopped waiting (the request's deadline came with it) the reservation
// is given back here: the owner has placed the peer elsewhere or refused it,
// and nobody would ever close its transport.
func (l *Lender) answer(ctx context.Context, req cluster.RelayPlace, rt *lentRouter) (cluster.RelayPlaced, error) {
	placed, err := rt.placed.wait(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if l.ReleaseTry(req.Owner, req.Peer, req.Try) {
			l.log.Warn("relay reservation given back: the owner stopped waiting", "room", req.Room, "owner", req.Owner, "peer", req.Peer, "err", err)
		}
		return cluster.RelayPlaced{}, err
	}
	return placed, nil
}

// dropRouter forgets a lent router and the peers reserved on it, and closes
// it on its worker unless its creation failed.
func (l *Lender) dropRouter(rr *lentRoom, rt *lentRouter, failed bool) {
	l.mu.Lock()
	if rt.gone {
		l.mu.Unlock()
		return
	}
	rt.gone = true
	l.forgetRouterLocked(rr, rt)
	l.mu.Unlock()
	if failed {
		return
	}
	if client := l.place.workers.Client(rt.ref); client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		if err := client.CloseRouter(ctx, ipc.RouterRef{RouterID: rt.id}); !isGone(err) {
			l.log.Warn("relay router close failed", "router", rt.id, "err", err)
		}
	}
}

func (l *Lender) forgetRouterLocked(rr *lentRoom, rt *lentRouter) {
	if rr.routers[rt.ref] == rt {
		delete(rr.routers, rt.ref)
	}
	delete(l.lent.byRouter, rt.id)
	for id, p := range rr.peers {
		if p.router == rt {
			delete(rr.peers, id)
			delete(l.lent.byPeer, id)
		}
	}
	for id, prt := range rr.pipes {
		if prt == rt {
			delete(rr.pipes, id)
			delete(l.lent.byPipe, id)
		}
	}
	if len(rr.routers) == 0 && l.lent.rooms[rr.key] == rr {
		delete(l.lent.rooms, rr.key)
	}
}

// Check vets a worker request another server sent for its lent routers
// here: it may touch only the routers, the reserved peers' transports and
// the pipe ends of rooms that server owns here. It returns the request to
// send on (a pipe end listens on this server's pipe address, whatever the
// owner asked). The request comes decoded (ipc.Request); each params type
// is the request of the methods it names, so the check goes by type.
func (l *Lender) Check(from cluster.ServerID, req ipc.Request) (ipc.Request, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	owned := func(rr *lentRoom) bool { return rr != nil && rr.key.owner == from }
	refused := func(what, id string) error {
		return &ipc.RemoteError{Code: ipc.CodeNotFound, Message: fmt.Sprintf("%s %s is not relayed here for %s", what, id, from)}
	}
	transport := func(id string) error {
		if !owned(l.lent.byPeer[id]) {
			return refused("transport", id)
		}
		return nil
	}
	pipe := func(id string) error {
		if !owned(l.lent.byPipe[id]) {
			return refused("pipe", id)
		}
		return nil
	}
	var err error
	switch p := req.Params().(type) {
	case ipc.RouterRef: // router.close
		if !owned(l.lent.byRouter[p.RouterID]) {
			err = refused("router", p.RouterID)
		}
	case ipc.TransportCreate:
		rr := l.lent.byRouter[p.RouterID]
		if !owned(rr) || l.lent.byPeer[p.TransportID] != rr || rr.peers[p.TransportID].router.id != p.RouterID {
			err = refused("transport", p.TransportID)
		}
	case ipc.SDP:
		err = transport(p.TransportID)
	case ipc.Candidate:
		err = transport(p.TransportID)
	case ipc.TransportRef:
		err = transport(p.TransportID)
	case ipc.ConsumerRef: // consumer.create and consumer.close
		err = transport(p.TransportID)
	case ipc.PipeCreate:
		rr := l.lent.byRouter[p.RouterID]
		if !owned(rr) {
			return ipc.Request{}, refused("router", p.RouterID)
		}
		if _, dup := l.lent.byPipe[p.PipeID]; !dup {
			rr.pipes[p.PipeID] = rr.router(p.RouterID)
			l.lent.byPipe[p.PipeID] = rr
		}
		p.ListenIP = l.pipeIP
		return ipc.NewRequest(ipc.CallPipeCreate, p), nil
	case ipc.PipeConnect:
		err = pipe(p.PipeID)
	case ipc.PipeFlow: // the four pipe flow methods
		err = pipe(p.PipeID)
	case ipc.PipeRef:
		err = pipe(p.PipeID)
	case ipc.ProducerPause:
		if !l.lendsToLocked(from) {
			err = refused("producer", "")
		}
	default:
		err = &ipc.RemoteError{Code: ipc.CodeUnknownMethod, Message: req.Method() + " is not served to relays"}
	}
	if err != nil {
		return ipc.Request{}, err
	}
	return req, nil
}

// router is the lent room's router with id, nil if it has none.
func (rr *lentRoom) router(id string) *lentRouter {
	for _, rt := range rr.routers {
		if rt.id == id {
			return rt
		}
	}
	return nil
}

func (l *Lender) lendsToLocked(owner cluster.ServerID) bool {
	for k := range l.lent.rooms {
		if k.owner == owner {
			return true
		}
	}
	return false
}

// Done updates what is lent after a worker request of the owner's was
// served: a closed transport gives its reservation back (the router closes
// with its last one), a closed router or pipe end is forgotten.
func (l *Lender) Done(from cluster.ServerID, req ipc.Request) {
	switch p := req.Params().(type) {
	case ipc.TransportRef: // transport.close
		l.Release(from, p.TransportID)
	case ipc.RouterRef: // router.close
		l.mu.Lock()
		rr := l.lent.byRouter[p.RouterID]
		if rr != nil && rr.key.owner == from {
			if rt := rr.router(p.RouterID); rt != nil && !rt.gone {
				rt.gone = true
				l.forgetRouterLocked(rr, rt)
			}
		}
		l.mu.Unlock()
	case ipc.PipeRef: // pipe.close
		l.mu.Lock()
		if rr := l.lent.byPipe[p.PipeID]; rr != nil && rr.key.owner == from {
			delete(rr.pipes, p.PipeID)
			delete(l.lent.byPipe, p.PipeID)
		}
		l.mu.Unlock()
	}
}

// Release gives back a peer's reservation; a router left with none is
// closed.
func (l *Lender) Release(owner cluster.ServerID, peerID string) {
	l.release(owner, peerID, func(lentPeer) bool { return true })
}

// ReleaseTry gives back a peer's reservation if the owner's request try
// made it (or asked for it last), and reports whether it did. An owner that
// gave up on a try releases that try only: the peer may have been placed
// here again since, by a later try.
func (l *Lender) ReleaseTry(owner cluster.ServerID, peerID, try string) bool {
	return l.release(owner, peerID, func(p lentPeer) bool { return p.try == try })
}

func (l *Lender) release(owner cluster.ServerID, peerID string, mine func(lentPeer) bool) bool {
	l.mu.Lock()
	rr := l.lent.byPeer[peerID]
	if rr == nil || rr.key.owner != owner || !mine(rr.peers[peerID]) {
		l.mu.Unlock()
		return false
	}
	rt := rr.peers[peerID].router
	delete(rr.peers, peerID)
	delete(l.lent.byPeer, peerID)
	empty := true
	for _, p := range rr.peers {
		if p.router == rt {
			empty = false
			break
		}
	}
	ready := rt.placed.resolved()
	l.mu.Unlock()
	if empty && ready {
		l.dropRouter(rr, rt, false)
	}
	return true
}

// OwnerOf names the owner of the room a worker event is about, when it is
// about a lent router here.
func (l *Lender) OwnerOf(ev ipc.Event) (cluster.ServerID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rr *lentRoom
	switch e := ev.(type) {
	case ipc.SpeakersEvent:
		rr = l.lent.byRouter[e.RouterID]
	case ipc.ProducerNewEvent:
		rr = l.lent.byRouter[e.RouterID]
	case ipc.ProducerClosedEvent:
		rr = l.lent.byRouter[e.RouterID]
	default:
		rr = l.lent.byPeer[ev.Key()]
	}
	if rr == nil {
		return "", false
	}
	return rr.key.owner, true
}

// DropOwner closes every router lent to owner (it died, or gave its rooms
// up) and returns how many there were.
func (l *Lender) DropOwner(owner cluster.ServerID) int {
	type item struct {
		rr *lentRoom
		rt *lentRouter
	}
	var items []item
	l.mu.Lock()
	for k, rr := range l.lent.rooms {
		if k.owner != owner {
			continue
		}
		for _, rt := range rr.routers {
			if rt.placed.resolved() {
				items = append(items, item{rr, rt})
			}
		}
	}
	l.mu.Unlock()
	for _, it := range items {
		l.dropRouter(it.rr, it.rt, false)
	}
	if len(items) > 0 {
		l.log.Warn("relay routers closed: their owner is gone", "owner", owner, "routers", len(items))
	}
	return len(items)
}

// Owners lists the servers this one lends routers to.
func (l *Lender) Owners() []cluster.ServerID {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[cluster.ServerID]bool{}
	for k := range l.lent.rooms {
		seen[k.owner] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// Counts is what this server carries for other servers' rooms: rooms,
// routers and reserved peers.
func (l *Lender) Counts() (rooms, routers, peers int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, rr := range l.lent.rooms {
		routers += len(rr.routers)
		peers += len(rr.peers)
	}
	return len(l.lent.rooms), routers, peers
}

// Lends reports whether this server relays room for owner.
func (l *Lender) Lends(owner cluster.ServerID, room string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lent.rooms[lentKey{owner, room}] != nil
}

// pipeRemotes adds the lent routers' pipe ends to out, each leading to its
// room's owner.
func (l *Lender) pipeRemotes(out map[string]cluster.ServerID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, rr := range l.lent.byPipe {
		out[id] = rr.key.owner
	}
}
