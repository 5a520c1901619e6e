// Package registry is the one view of the servers that their heartbeats
// give: who is live, dead or draining, and how stressed each is with the
// rooms placed on it since its last heartbeat counted. The API keeps one for
// its placements, moves and failover, and every server's agent keeps one
// for its relay choice. The choice itself is a plain function over the view
// (Candidates, MoveTarget), table-tested as server/placement is.
package registry

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
)

// Server is one server as the registry knows it.
type Server struct {
	cluster.Heartbeat
	LastSeen time.Time `json:"last_seen"`
	Dead     bool      `json:"dead"`
	// PlacedSince counts rooms the API placed on it since its last heartbeat,
	// which that heartbeat does not show yet.
	PlacedSince int `json:"placed_since_heartbeat"`
	// MovedIn is the load of rooms moved to it since its last heartbeat.
	MovedIn int `json:"moved_in_since_heartbeat"`
	// Placing counts placements asked of it whose answer has not come back
	// (Reserve): they count against it at once, so that a burst of
	// concurrent creates spreads rather than all reading the same view. A
	// heartbeat does not clear them: it may be sent before the room is made.
	Placing int `json:"placing"`
	// Unheard: it spoke to us (Seen) but no heartbeat of it arrived yet, so
	// nothing is known of its load and nothing is placed on it.
	Unheard bool `json:"unheard,omitempty"`
	// VouchedAt is when the API last reached it over HTTP (a lease probe)
	// while its heartbeats were missing: alive, though not on the bus.
	VouchedAt time.Time `json:"vouched_at,omitzero"`
	// OffBus: silent on the bus but answering probes since its last
	// heartbeat; it keeps its rooms, and no new room is placed on it (it
	// could not hear the create).
	OffBus bool `json:"off_bus,omitempty"`
}

// lastSign is the latest sign of life: a heartbeat or a probe answered.
func (s *Server) lastSign() time.Time {
	if s.VouchedAt.After(s.LastSeen) {
		return s.VouchedAt
	}
	return s.LastSeen
}

// State is the server's state: dead, draining or live.
func (s Server) State() cluster.ServerState { return cluster.StateOf(s.Dead, s.Draining) }

// Registry is safe for concurrent use.
type Registry struct {
	deadAfter time.Duration
	mu        sync.Mutex
	servers   map[cluster.ServerID]*Server
}

// New returns an empty registry; a server silent for deadAfter is dead.
func New(deadAfter time.Duration) *Registry {
	return &Registry{deadAfter: deadAfter, servers: map[cluster.ServerID]*Server{}}
}

// Observed is what a heartbeat changed.
type Observed struct {
	// Revived: the server had been declared dead (it came back).
	Revived bool
	// BeganDraining: it drains, which it did not say before.
	BeganDraining bool
	// First: the server's first heartbeat here.
	First bool
}

// Observe records a heartbeat received at.
func (r *Registry) Observe(hb cluster.Heartbeat, at time.Time) Observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[hb.Server]
	first := s == nil || s.Unheard
	if s == nil {
		s = &Server{}
		r.servers[hb.Server] = s
	}
	o := Observed{Revived: s.Dead, BeganDraining: hb.Draining && !s.Draining, First: first}
	s.Heartbeat, s.LastSeen, s.Dead, s.PlacedSince, s.MovedIn, s.Unheard, s.OffBus = hb, at, false, 0, 0, false, false
	return o
}

// Seen marks a server alive at (it just spoke to us), so that its silence
// from then on is noticed even before its first heartbeat arrives.
func (r *Registry) Seen(id cluster.ServerID, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[id]
	if s == nil {
		s = &Server{Heartbeat: cluster.Heartbeat{Server: id}, Unheard: true}
		r.servers[id] = s
	}
	if at.After(s.LastSeen) {
		s.LastSeen = at
	}
	s.Dead = false
}

// Forget drops a server (one reaped that is not to be shown as dead).
func (r *Registry) Forget(id cluster.ServerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.servers, id)
}

// Placed counts a room placed on id before its next heartbeat.
func (r *Registry) Placed(id cluster.ServerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.servers[id]; s != nil {
		s.PlacedSince++
	}
}

// Reserve picks the best server for a new room (Candidates, without
// exclude) and counts a placement in flight on it in the same step, so that
// a placement being decided meanwhile sees it. done ends the reservation
// once the server answered: placed counts the room until the server's next
// heartbeat (as Placed does), else the reservation is just dropped. ok is
// false when no server fits.
func (r *Registry) Reserve(highWater float64, exclude ...cluster.ServerID) (id cluster.ServerID, done func(placed bool), ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	servers := make([]Server, 0, len(r.servers))
	for _, s := range r.servers {
		servers = append(servers, *s)
	}
	cands := Candidates(servers, highWater, exclude...)
	if len(cands) == 0 {
		return "", nil, false
	}
	id = cands[0]
	r.servers[id].Placing++
	var once sync.Once
	return id, func(placed bool) {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			s := r.servers[id]
			if s == nil {
				return // forgotten meanwhile
			}
			s.Placing--
			if placed {
				s.PlacedSince++
			}
		})
	}, true
}

// MarkDraining records a drain the server was told of, before its heartbeat
// says so.
func (r *Registry) MarkDraining(id cluster.ServerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.servers[id]; s != nil {
		s.Draining = true
	}
}

// MovedIn counts a room of load units moved to id before its next heartbeat.
func (r *Registry) MovedIn(id cluster.ServerID, units int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.servers[id]; s != nil {
		s.PlacedSince++
		s.MovedIn += units
	}
}

// Reap declares dead every server silent for deadAfter and returns those
// that just died.
func (r *Registry) Reap(now time.Time) []cluster.ServerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []cluster.ServerID
	for id, s := range r.servers {
		if !s.Dead && now.Sub(s.lastSign()) > r.deadAfter {
			s.Dead = true
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Silent lists the servers not dead whose last sign of life (a heartbeat
// or a probe answered) is older than d: the ones the API probes.
func (r *Registry) Silent(now time.Time, d time.Duration) []cluster.ServerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []cluster.ServerID
	for id, s := range r.servers {
		if !s.Dead && now.Sub(s.lastSign()) > d {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Vouch records that a silent server, probed at asked, answered at
// answered: it stays live for another dead_after, off the bus unless a
// heartbeat came after the probe was sent (the server was back on the bus
// while the probe was on its way; its answer must not say otherwise).
func (r *Registry) Vouch(id cluster.ServerID, asked, answered time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[id]
	if s == nil || s.Dead {
		return
	}
	if answered.After(s.VouchedAt) {
		s.VouchedAt = answered
	}
	if asked.After(s.LastSeen) {
		s.OffBus = true
	}
}

// Declare declares id dead if it is still silent past dead_after at now
// (neither a heartbeat nor a probe answered meanwhile); it reports whether
// id just died.
func (r *Registry) Declare(id cluster.ServerID, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[id]
	if s == nil || s.Dead || now.Sub(s.lastSign()) <= r.deadAfter {
		return false
	}
	s.Dead = true
	return true
}

// Excuse forgives every live server's silence up to now: after the API's
// own bus outage, servers get a full dead_after to be heard again.
func (r *Registry) Excuse(now time.Time) {
	r.ExcuseFor(now, time.Duration(math.MaxInt64))
}

// ExcuseFor forgives every live server the silence of an outage of the
// API's own that lasted d and ended now: its silence counts only the time
// the API could hear it. A server heard until the outage began gets a full
// dead_after again, as with Excuse; one silent long before it is not made
// new by a short one (a late beat of the API's own on a loaded machine
// would otherwise keep a dead server from ever being declared dead).
func (r *Registry) ExcuseFor(now time.Time, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.servers {
		if s.Dead || !s.LastSeen.Before(now) {
			continue
		}
		if now.Sub(s.LastSeen) <= d {
			s.LastSeen = now
		} else {
			s.LastSeen = s.LastSeen.Add(d)
		}
	}
}

// Get returns one server.
func (r *Registry) Get(id cluster.ServerID) (Server, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[id]
	if s == nil {
		return Server{}, false
	}
	return *s, true
}

// Live reports whether id is known and not dead.
func (r *Registry) Live(id cluster.ServerID) bool {
	s, ok := r.Get(id)
	return ok && !s.Dead
}

// Heard reports whether id was heard from within dead_after before now: not
// dead, even between two Reaps.
func (r *Registry) Heard(id cluster.ServerID, now time.Time) bool {
	s, ok := r.Get(id)
	return ok && !s.Dead && now.Sub(s.lastSign()) <= r.deadAfter
}

// Draining reports whether id is known to drain.
func (r *Registry) Draining(id cluster.ServerID) bool {
	s, ok := r.Get(id)
	return ok && s.Draining
}

// Snapshot lists every server, by id.
func (r *Registry) Snapshot() []Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Server, 0, len(r.servers))
	for _, s := range r.servers {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Server) int {
		if a.Server < b.Server {
			return -1
		}
		if a.Server > b.Server {
			return 1
		}
		return 0
	})
	return out
}

// RoomWeight is the stress one new room is assumed to add to its server
// until the server's next heartbeat shows what it really costs.
const RoomWeight = 0.02

// Candidates orders the servers a new room (or a relay) may go to: live,
// heard, on the bus, not draining, below high water once the rooms placed since their
// heartbeat and those being placed on them are counted; least stressed
// first, ties by the rooms each carries, then by id. exclude names servers
// not to use.
//
// The rooms break ties because a room nobody joined yet costs no load: once
// the heartbeat after its placement arrives (PlacedSince back to 0), its
// server reads as idle as the servers without a room, and the id alone
// would send the next new rooms to that same server.
func Candidates(servers []Server, highWater float64, exclude ...cluster.ServerID) []cluster.ServerID {
	type cand struct {
		id     cluster.ServerID
		stress float64
		rooms  int
	}
	var cs []cand
	for _, s := range servers {
		if s.Dead || s.Unheard || s.OffBus || s.Draining || slices.Contains(exclude, s.Server) {
			continue
		}
		placed := s.PlacedSince + s.Placing
		st := s.Stress + float64(placed)*RoomWeight
		if st > highWater {
			continue
		}
		cs = append(cs, cand{s.Server, st, len(s.Rooms) + s.RelayRooms + placed})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		switch {
		case a.stress < b.stress:
			return -1
		case a.stress > b.stress:
			return 1
		case a.rooms != b.rooms:
			return a.rooms - b.rooms
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	out := make([]cluster.ServerID, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}
