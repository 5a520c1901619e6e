package relay

import "github.com/voicectl/voicectl/server/cluster"

// Peers is what choosing a relay asks of the other servers as their
// heartbeats show them (the agent's registry): whom to ask, and whether one
// is still there.
type Peers interface {
	// Alive reports whether a server was heard from within dead_after.
	Alive(id cluster.ServerID) bool
	// Draining reports whether a server's latest heartbeat says it drains.
	Draining(id cluster.ServerID) bool
	// Candidates are the other servers below highWater, in the order to ask
	// them: least stressed first.
	Candidates(highWater float64) []cluster.ServerID
	// Placed counts a relay placed on id until its next heartbeat shows it.
	Placed(id cluster.ServerID)
}
