package control

import (
	"sort"
)

// WorkerLoad is a worker's load as the control process accounts it: what its
// rooms' peers will cost once every publisher is producing. Load units are
// consumers + producers (local and piped) + pipe consumers.
type WorkerLoad struct {
	Routers       int
	Peers         int
	Consumers     int
	Producers     int
	PipeConsumers int
}

// Units is the load that counts against worker.max_consumers.
func (l WorkerLoad) Units() int { return l.Consumers + l.Producers + l.PipeConsumers }

// modelLoadLocked computes every worker's accounted load; the caller holds c.mu.
func (c *Control) modelLoadLocked() []WorkerLoad {
	loads := make([]WorkerLoad, len(c.slots))
	for _, r := range c.rooms {
		r.addLoad(loads, c.cfg.Room.MaxForwardedSpeakers)
	}
	return loads
}

// addLoad adds r's cost. A listener consumes every other publisher (at most n with
// loudest-N forwarding); a router holds its publishers' producers plus a pipe
// producer for each publisher elsewhere; each publisher costs its worker one pipe
// consumer per other router of the room.
func (r *room) addLoad(loads []WorkerLoad, n int) {
	pubs := 0
	peersOn := map[*roomRouter]int{}
	pubsOn := map[*roomRouter]int{}
	for _, p := range r.peers {
		if p.router.dead {
			continue
		}
		peersOn[p.router]++
		if p.publish {
			pubs++
			pubsOn[p.router]++
		}
	}
	limit := func(k int) int {
		if n > 0 && k > n {
			return n
		}
		return k
	}
	for _, rr := range r.routers {
		loads[rr.worker].Routers++
	}
	for _, p := range r.peers {
		if p.router.dead {
			continue
		}
		others := pubs
		if p.publish {
			others--
		}
		loads[p.router.worker].Consumers += limit(others)
		loads[p.router.worker].Peers++
	}
	for rr := range peersOn {
		loads[rr.worker].Producers += pubs // its own publishers plus a pipe producer for each elsewhere
		loads[rr.worker].PipeConsumers += pubsOn[rr] * (len(peersOn) - 1)
	}
}

// placeCapacity is the load a worker may reach when a peer is placed on it: the
// rest of its capacity is kept for what joins elsewhere add to it.
func (c *Control) placeCapacity() int {
	return int(float64(c.cfg.Worker.MaxConsumers) * (1 - c.cfg.Worker.PipeHeadroom))
}

// placeLocked chooses p's router: one of the room's routers whose worker has room,
// else a new router on the least-loaded worker with room, else ErrNoCapacity. A
// placement is taken only if no worker whose load it raises ends over capacity.
// On success p is in the room (reserving its load). The caller holds c.mu.
func (c *Control) placeLocked(r *room, p *peer) (*roomRouter, error) {
	before := c.modelLoadLocked()
	var existing, fresh []int
	for i, s := range c.slots {
		if !s.status().Ready {
			continue
		}
		if r.routers[i] != nil {
			existing = append(existing, i)
		} else {
			fresh = append(fresh, i)
		}
	}
	byLoad := func(ws []int) {
		sort.SliceStable(ws, func(a, b int) bool { return before[ws[a]].Units() < before[ws[b]].Units() })
	}
	byLoad(existing)
	byLoad(fresh)
	for _, w := range append(existing, fresh...) {
		rr := r.routers[w]
		isNew := rr == nil
		if isNew {
			rr = &roomRouter{id: newID("RT_"), worker: w}
			r.routers[w] = rr
		}
		p.router = rr
		r.peers[p.id] = p
		if c.fitsLocked(before, w) {
			return rr, nil
		}
		delete(r.peers, p.id)
		if isNew {
			delete(r.routers, w)
		}
	}
	p.router = nil
	return nil, ErrNoCapacity
}

func (c *Control) fitsLocked(before []WorkerLoad, placed int) bool {
	after := c.modelLoadLocked()
	for i, l := range after {
		limit := c.cfg.Worker.MaxConsumers
		if i == placed {
			limit = c.placeCapacity()
		}
		grew := l.Units() > before[i].Units() || l.Producers > before[i].Producers
		if grew && (l.Units() > limit || l.Producers > c.cfg.Worker.MaxProducers) {
			return false
		}
	}
	return true
}

// fullLocked reports that no ready worker can take any new peer.
func (c *Control) fullLocked() bool {
	loads := c.modelLoadLocked()
	for i, s := range c.slots {
		if s.status().Ready && loads[i].Units() < c.placeCapacity() {
			return false
		}
	}
	return true
}
