package placement

import (
	"slices"

	"github.com/voicectl/voicectl/server/cluster"
)

// Limits are a worker's capacity and the room policy that shapes its load.
type Limits struct {
	// MaxConsumers is a worker's capacity in load units.
	MaxConsumers int
	// MaxProducers bounds the producers (local and piped) on one worker.
	MaxProducers int
	// Headroom is the fraction of capacity kept free on the worker a peer is
	// placed on, for what joins elsewhere add to it through pipes.
	Headroom float64
	// MaxForwardedSpeakers > 0 forwards only the N loudest to each listener.
	MaxForwardedSpeakers int
}

// PlaceCapacity is the load a worker may reach when a peer is placed on it.
func (l Limits) PlaceCapacity() int { return int(float64(l.MaxConsumers) * (1 - l.Headroom)) }

// Candidate is a worker that may take the peer: a ready local worker, or (in
// a cluster) a worker of a relay server.
type Candidate struct {
	Ref   cluster.WorkerRef
	Local bool
}

// Decision is where the peer goes; NewRouter means the room has no router on
// that worker yet.
type Decision struct {
	Ref       cluster.WorkerRef
	NewRouter bool
}

// Place chooses a worker for one more peer of room: a worker the room already
// has a router on, least loaded first, else a fresh worker, least loaded
// first; local workers before other servers'. A choice is taken only if no
// worker whose load it raises ends over capacity (the chosen one over its
// PlaceCapacity). loads is the model of every room, room included; it is
// computed once by the caller, and each candidate costs only room's own
// delta.
func Place(room Room, publish bool, candidates []Candidate, loads Loads, lim Limits) (Decision, error) {
	has := map[cluster.WorkerRef]bool{}
	for _, w := range room.Routers {
		has[w] = true
	}
	order := slices.Clone(candidates)
	rank := func(c Candidate) int {
		r := 0
		if !c.Local {
			r += 2
		}
		if !has[c.Ref] {
			r++
		}
		return r
	}
	slices.SortStableFunc(order, func(a, b Candidate) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		if d := loads[a.Ref].Units() - loads[b.Ref].Units(); d != 0 {
			return d
		}
		if a.Ref.Less(b.Ref) {
			return -1
		}
		if b.Ref.Less(a.Ref) {
			return 1
		}
		return 0
	})
	without := Loads{}
	room.addTo(without, lim.MaxForwardedSpeakers, -1)
	for _, c := range order {
		grown := Room{Routers: room.Routers, Peers: append(slices.Clone(room.Peers), Peer{Router: c.Ref, Publish: publish}), External: room.External}
		if !has[c.Ref] {
			grown.Routers = append(slices.Clone(room.Routers), c.Ref)
		}
		delta := Loads{}
		for w, l := range without {
			delta[w] = l
		}
		grown.addTo(delta, lim.MaxForwardedSpeakers, 1)
		if room.External != nil {
			delete(delta, *room.External)
		}
		if fits(loads, delta, c.Ref, lim) {
			return Decision{Ref: c.Ref, NewRouter: !has[c.Ref]}, nil
		}
	}
	return Decision{}, ErrNoCapacity
}

// fits checks every worker whose load delta raises: none may end over
// capacity, the placed one not over its PlaceCapacity, none over the
// producers limit.
func fits(before, delta Loads, placed cluster.WorkerRef, lim Limits) bool {
	for w, d := range delta {
		b := before[w]
		after := Load{Consumers: b.Consumers + d.Consumers, Producers: b.Producers + d.Producers, PipeConsumers: b.PipeConsumers + d.PipeConsumers}
		grew := after.Units() > b.Units() || after.Producers > b.Producers
		if !grew {
			continue
		}
		limit := lim.MaxConsumers
		if w == placed {
			limit = lim.PlaceCapacity()
		}
		if after.Units() > limit || after.Producers > lim.MaxProducers {
			return false
		}
	}
	return true
}

// Full reports that no candidate can take any new peer.
func Full(candidates []Candidate, loads Loads, lim Limits) bool {
	for _, c := range candidates {
		if loads[c.Ref].Units() < lim.PlaceCapacity() {
			return false
		}
	}
	return true
}

// Stress is load over capacity.
func Stress(units, capacity int) float64 {
	if capacity <= 0 {
		return 1
	}
	return float64(units) / float64(capacity)
}

// Accepting applies high/low water: a server that takes work stops above
// high and, once stopped, takes work again only below low.
func Accepting(wasAccepting bool, stress, high, low float64) bool {
	if wasAccepting {
		return stress <= high
	}
	return stress < low
}
