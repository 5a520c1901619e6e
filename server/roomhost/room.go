package roomhost

import (
	"slices"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/wire"
)

// room is one room's state, guarded by mu. Its media may be spread over
// routers on several workers, linked by pipes.
type room struct {
	id      string
	created time.Time

	mu       sync.Mutex
	state    roomState
	routers  map[cluster.WorkerRef]*router
	peers    map[string]*peer
	pipes    map[pairKey]*pipePair
	speakers []wire.Speaker
	// qualitySentAt is when the room last heard every peer's quality.
	qualitySentAt time.Time
	// pending counts joins waiting for a relay's answer; the room is not
	// emptied under them.
	pending int
	// started: its room_started webhook event was sent (at its first
	// announced peer), so its room_finished is owed when it empties.
	started bool
}

func newRoom(id string) *room {
	return &room{id: id, created: time.Now(), routers: map[cluster.WorkerRef]*router{}, peers: map[string]*peer{}, pipes: map[pairKey]*pipePair{}}
}

// router is the room's router on one worker. The peer that placed it creates
// it on the worker; everyone else waits for created.
type router struct {
	id     string
	ref    cluster.WorkerRef
	client ipc.WorkerClient
	// created is set once the worker answered router.create.
	created *future[struct{}]
	state   routerState
	// remote: on another server (a relay router, made by that server).
	remote bool
}

// peer is one joining or joined client. Its id is also its transport id.
type peer struct {
	id            string
	identity      string
	room          *room
	router        *router
	sess          Session
	publish       bool
	producerID    string
	createsRouter bool // its Connect creates router on the worker
	joinedAt      time.Time

	// Guarded by room.mu:
	levelExtID uint8
	producing  bool
	muted      bool
	phase      peerPhase
	// path and remote are its media's selected ICE pair (onPath): a
	// wire.PeerPaths value and the far end's ip:port; "" until connected.
	path, remote string
	// quality is its connection quality as the worker last reported it
	// (onQuality); Level "" until then.
	quality ipc.TransportQuality
	// consumes are the producers it receives (or is being set up to), by
	// producer id; a piped one holds a reference on its pipe flow.
	consumes map[string]*claim
	// mediaTimer, from its first offer until its media connected, ends a
	// peer whose ICE or DTLS never completes (Params.MediaTimeout).
	mediaTimer *time.Timer

	// leaveReason is why it leaves, for its participant_left event
	// (webhook.Reason*; "" is "left").
	leaveReason string

	// muteMu orders one peer's mute changes across their worker calls.
	muteMu sync.Mutex
	// settled closes once its transport exists or it has left: a client's
	// answer or candidate sent while its join is set up waits for it.
	settled    chan struct{}
	settleOnce sync.Once
}

func (p *peer) settle() { p.settleOnce.Do(func() { close(p.settled) }) }

// claim is a listener's hold on one producer.
type claim struct {
	flow     *pipeFlow // nil when the producer is on the listener's router
	released bool      // its flow reference was given back
}

func (p *peer) info() wire.PeerInfo {
	pi := wire.PeerInfo{ID: p.id, Identity: p.identity, Publishing: p.producing, Muted: p.muted}
	if p.producing {
		pi.ProducerID = p.producerID
	}
	return pi
}

// closeToJoins makes the room refuse joins until it empties and returns the
// sessions of the peers in it, for the caller to end or send elsewhere;
// reason is why they leave (their participant_left events).
func (r *room) closeToJoins(reason string) []Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == roomOpen {
		r.state = roomClosing
	}
	sess := make([]Session, 0, len(r.peers))
	for _, p := range r.peers {
		sess = append(sess, p.sess)
		if p.leaveReason == "" {
			p.leaveReason = reason
		}
	}
	return sess
}

// emptiedLocked marks a room that has no peer and no join waiting on a
// relay closed, and reports it; the caller then forgets it.
func (r *room) emptiedLocked() bool {
	if len(r.peers) == 0 && r.pending == 0 {
		r.state = roomClosed
		return true
	}
	return false
}

// sortedPeersLocked lists peers by join time.
func (r *room) sortedPeersLocked() []*peer {
	out := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *peer) int { return a.joinedAt.Compare(b.joinedAt) })
	return out
}

// broadcastLocked sends msg to every announced peer but skip. Sending under
// the room's lock keeps every client's view of the room in order (a peer's
// peer_joined before its peer_left); Send never blocks.
func (r *room) broadcastLocked(msg any, skip *peer) {
	for _, q := range r.peers {
		if q != skip && q.phase.announced() {
			q.sess.Send(msg)
		}
	}
}

// placementLocked is the room as placement sees it: live routers, and the
// peers on them.
func (r *room) placementLocked() placement.Room {
	out := placement.Room{}
	for ref := range r.routers {
		out.Routers = append(out.Routers, ref)
	}
	slices.SortFunc(out.Routers, func(a, b cluster.WorkerRef) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	for _, p := range r.peers {
		if p.router.state != routerDead {
			out.Peers = append(out.Peers, placement.Peer{Router: p.router.ref, Publish: p.publish})
		}
	}
	return out
}

// primaryLocked is the router that speaks for the room (its speaker
// events): the one on the lowest worker. Every router sees all producers.
func (r *room) primaryLocked() *router {
	var best *router
	for _, rt := range r.routers {
		if best == nil || rt.ref.Less(best.ref) {
			best = rt
		}
	}
	return best
}
