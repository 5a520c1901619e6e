package worker

import (
	"sync"

	"github.com/voicectl/voicectl/server/ipc"
)

// candidateGate keeps a transport's local ICE candidates behind the offer
// they belong to. pion gathers on its own goroutine from SetLocalDescription
// on (from CreateOffer on, for an ICE restart), so a candidate could reach control before the offer that carries its
// ICE credentials (RFC 8839 §4.2.1: a candidate belongs to one ufrag): a
// client cannot add a candidate before the description it belongs to (pion
// and browsers refuse it; after an ICE restart pion drops it as of another
// generation), and since the offer's SDP was made before gathering it holds
// no candidate of its own. A client reachable only through TURN then had no
// server candidate to pair with, and never connected. The gate shuts before
// the offer is made and opens once it has gone out, sending what it held in
// the order it came.
type candidateGate struct {
	mu   sync.Mutex
	open bool
	held []ipc.Candidate
}

// shut holds every candidate from now until reopen.
func (g *candidateGate) shut() {
	g.mu.Lock()
	g.open = false
	g.mu.Unlock()
}

// pass sends c now if the gate is open, or holds it.
func (g *candidateGate) pass(c ipc.Candidate, send func(ipc.Candidate)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.held = append(g.held, c)
		return
	}
	send(c)
}

// reopen sends what was held, then lets candidates through.
func (g *candidateGate) reopen(send func(ipc.Candidate)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.held {
		send(c)
	}
	g.held, g.open = nil, true
}
