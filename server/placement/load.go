// Package placement decides where a joining peer's media goes. It is plain
// functions over plain values: the load model a room puts on workers, and
// Place, which picks a worker for one more peer. No I/O, no locks; the room
// host snapshots its rooms and asks.
package placement

import "github.com/voicectl/voicectl/server/cluster"

// Load is what a worker carries as the model accounts it: what its rooms'
// peers will cost once every publisher is producing.
type Load struct {
	Routers       int
	Peers         int
	Consumers     int
	Producers     int // local producers and pipe producers
	PipeConsumers int
}

// Units is the load that counts against capacity (worker.max_consumers):
// consumers + producers (local and piped) + pipe consumers.
func (l Load) Units() int { return l.Consumers + l.Producers + l.PipeConsumers }

// Loads is the load of every worker the model has seen.
type Loads map[cluster.WorkerRef]Load

// Peer is one peer as placement sees it: where it is and whether it publishes.
type Peer struct {
	Router  cluster.WorkerRef
	Publish bool
}

// Room is one room: the workers it has routers on and its peers. A peer's
// Router must be among Routers.
type Room struct {
	Routers []cluster.WorkerRef
	Peers   []Peer
	// External is a router of the room on another server whose load that
	// server accounts for (a relay's view of the owner's side): it shapes
	// the room's load here but is not checked against this server's limits.
	External *cluster.WorkerRef
}

// Model adds up the load of rooms, forwarding at most maxForwarded speakers to
// each listener (0: all).
func Model(rooms []Room, maxForwarded int) Loads {
	loads := Loads{}
	for _, r := range rooms {
		r.addTo(loads, maxForwarded, 1)
	}
	return loads
}

// addTo adds sign × r's cost to loads. A listener consumes every other
// publisher (at most n with loudest-N forwarding); a router holds its
// publishers' producers plus a pipe producer for each publisher elsewhere;
// each publisher costs its worker one pipe consumer per other router of the
// room that has peers.
func (r Room) addTo(loads Loads, n, sign int) {
	pubs := 0
	peersOn := map[cluster.WorkerRef]int{}
	pubsOn := map[cluster.WorkerRef]int{}
	for _, p := range r.Peers {
		peersOn[p.Router]++
		if p.Publish {
			pubs++
			pubsOn[p.Router]++
		}
	}
	limit := func(k int) int {
		if n > 0 && k > n {
			return n
		}
		return k
	}
	add := func(w cluster.WorkerRef, f func(*Load)) {
		l := loads[w]
		f(&l)
		loads[w] = l
	}
	for _, w := range r.Routers {
		add(w, func(l *Load) { l.Routers += sign })
	}
	for _, p := range r.Peers {
		others := pubs
		if p.Publish {
			others--
		}
		add(p.Router, func(l *Load) { l.Consumers += sign * limit(others); l.Peers += sign })
	}
	for w := range peersOn {
		add(w, func(l *Load) {
			l.Producers += sign * pubs
			l.PipeConsumers += sign * pubsOn[w] * (len(peersOn) - 1)
		})
	}
}
