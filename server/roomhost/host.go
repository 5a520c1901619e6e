// Package roomhost keeps a server's rooms: their peers, the routers their media
// is spread over and the pipes between those routers. Each room has its own
// lock, held only for state changes, never across a worker round-trip, so a
// slow worker call holds up only the operation that made it. The signalling
// sessions, the admin API and (later) the bus all act through the Host's
// domain methods: Admit/Connect (a join), Leave, Mute, Kick, CloseRoom, Drain.
package roomhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/wire"
)

// Session is a peer's signalling connection as the host sees it.
type Session interface {
	// Send queues a signalling message; it never blocks.
	Send(msg any)
	// Reconnect tells the client to connect again (after delayMS) and closes.
	Reconnect(reason wire.ReconnectReason, delayMS int)
	// End sends a fatal error with a stable code and closes.
	End(code wire.Code, message string)
	// Move tells the client to join again at url (its room moved there)
	// with a fresh token for the same grant, and closes.
	Move(url, server string)
}

// Workers is where the host's routers can go.
type Workers interface {
	// Candidates lists the workers that can take a router now.
	Candidates() []placement.Candidate
	// Client reaches the worker at ref, nil if there is none.
	Client(ref cluster.WorkerRef) ipc.WorkerClient
}

// Params configures a Host.
type Params struct {
	Logger  *slog.Logger
	Workers Workers
	Limits  placement.Limits
	// PipeListenIP is where pipe ends between this host's workers listen.
	PipeListenIP string
	// CallTimeout bounds one worker call.
	CallTimeout time.Duration
	// OnNoCapacity is called for every join refused with ErrNoCapacity.
	OnNoCapacity func()
	// RequireClaim admits joins only to claimed rooms (cluster mode: the
	// rooms the API placed here).
	RequireClaim bool
	// Relays, in a cluster, finds routers on other servers for joins that
	// fit on no worker here; nil keeps every room on this server.
	Relays Relays
	// ClusterPipeIP is where this server's ends of pipes to other servers
	// listen (cluster.pipe_ip), and the address its relay routers' pipe ends
	// take whatever the owner asked.
	ClusterPipeIP string
	// PipeSRTP protects pipes between servers with SRTP.
	PipeSRTP bool
	// MediaTimeout ends a peer whose media (ICE and DTLS) has not connected
	// this long after its first offer was sent (0: never); OnMediaTimeout
	// counts them.
	MediaTimeout   time.Duration
	OnMediaTimeout func()
	// TURN tells the embedded TURN server's relayed addresses apart (udp,
	// tcp, tls) for peers' paths; nil shows a relayed path as "turn".
	TURN TURNAllocations
	// Events receives the rooms' webhook events (nil: none); Server names
	// this server in them.
	Events Events
	Server cluster.ServerID
}

// Relays reaches routers on other servers for the rooms this server owns.
type Relays interface {
	// Place finds a server with room for one more peer of the room,
	// asking the servers that already relay it (prefer) first.
	Place(ctx context.Context, req RelayRequest) (RelayRouter, error)
}

// RelayRequest asks for a relay router for one peer.
type RelayRequest struct {
	Room    string
	Peer    string
	Publish bool
	// Publishers counts the room's publishing peers, the joining one aside.
	Publishers int
	Prefer     []cluster.ServerID
}

// RelayRouter is a router on another server and the client that works it.
type RelayRouter struct {
	Ref      cluster.WorkerRef
	RouterID string
	Client   ipc.WorkerClient
}

// Host holds the rooms of one server. In a cluster it plays both relay
// roles: as an owner it borrows routers on other servers for joins that fit
// on no worker here (borrow, borrow.go), and its Lender lends this server's
// routers to rooms other servers own (lender.go); both place on the same
// workers through one placer.
type Host struct {
	log     *slog.Logger
	place   *placer
	pipeIP  string
	timeout time.Duration
	lanes   *lanes
	// borrow finds routers on other servers; nil keeps every room here.
	borrow  Relays
	xpipeIP string
	srtp    bool
	lender  *Lender

	mediaTimeout   time.Duration
	onMediaTimeout func()
	turn           TURNAllocations
	events         Events
	server         cluster.ServerID

	// mu guards the rooms and peers. Lock order: place.mu, then mu, then a
	// room's mu; mu is never taken while a room's mu is held.
	mu       sync.Mutex
	rooms    map[string]*room
	peers    map[string]*peer
	routers  map[string]*room // by router id, for worker events
	draining bool
	// claims are the rooms this server hosts in a cluster; nil when every
	// room may be joined.
	claims map[string]bool
	// lease, when set, fences the claims: no join while it reports false.
	lease func() bool
}

// New returns an empty host.
func New(p Params) *Host {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.CallTimeout <= 0 {
		p.CallTimeout = 5 * time.Second
	}
	if p.OnNoCapacity == nil {
		p.OnNoCapacity = func() {}
	}
	if p.OnMediaTimeout == nil {
		p.OnMediaTimeout = func() {}
	}
	h := &Host{log: p.Logger, pipeIP: p.PipeListenIP, timeout: p.CallTimeout,
		lanes: newLanes(), borrow: p.Relays, xpipeIP: p.ClusterPipeIP, srtp: p.PipeSRTP,
		mediaTimeout: p.MediaTimeout, onMediaTimeout: p.OnMediaTimeout, turn: p.TURN, events: p.Events, server: p.Server,
		rooms: map[string]*room{}, peers: map[string]*peer{}, routers: map[string]*room{}}
	if h.xpipeIP == "" {
		h.xpipeIP = h.pipeIP
	}
	h.place = &placer{workers: p.Workers, lim: p.Limits, onNoCap: p.OnNoCapacity, owned: h.placements, draining: h.Draining}
	h.lender = newLender(lenderParams{log: p.Logger, place: h.place, pipeIP: h.xpipeIP, timeout: p.CallTimeout})
	h.place.lent = h.lender.placements
	if p.RequireClaim {
		h.claims = map[string]bool{}
	}
	return h
}

// Stop waits for the worker events being handled; later events are dropped.
func (h *Host) Stop() { h.lanes.stop() }

// Drain refuses every join from now on.
func (h *Host) Drain() {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
}

// Draining reports whether Drain was called.
func (h *Host) Draining() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining
}

func (h *Host) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), h.timeout)
}

func (h *Host) peer(id string) *peer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[id]
}

func (h *Host) roomList() []*room {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *room) int {
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	})
	return out
}

// Lender is the relay side of this server: the routers it lends to other
// servers' rooms.
func (h *Host) Lender() *Lender { return h.lender }

// Loads is the placement model of every room right now, the lent ones
// included.
func (h *Host) Loads() placement.Loads { return h.place.loads() }

// placements is every room the host owns as the load model sees it.
func (h *Host) placements() []placement.Room {
	rooms := h.roomList()
	snaps := make([]placement.Room, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		snaps = append(snaps, r.placementLocked())
		r.mu.Unlock()
	}
	return snaps
}

// Full reports that no worker can take any new peer.
func (h *Host) Full() bool {
	return placement.Full(h.place.workers.Candidates(), h.Loads(), h.place.lim)
}

// Counts is the number of rooms and peers.
func (h *Host) Counts() (rooms, peers int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms), len(h.peers)
}

// PeerWorker is where a peer's media is.
func (h *Host) PeerWorker(peerID string) (cluster.WorkerRef, bool) {
	p := h.peer(peerID)
	if p == nil {
		return cluster.WorkerRef{}, false
	}
	return p.router.ref, true
}

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// isGone reports worker errors that mean the object is already gone.
func isGone(err error) bool {
	var re *ipc.RemoteError
	return err == nil || errors.Is(err, ipc.ErrWorkerDown) || errors.Is(err, ipc.ErrClosed) ||
		(errors.As(err, &re) && re.Code == ipc.CodeNotFound)
}

// isExists reports a worker's answer that the object exists already.
func isExists(err error) bool {
	var re *ipc.RemoteError
	return errors.As(err, &re) && re.Code == ipc.CodeExists
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
