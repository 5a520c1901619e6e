package roomhost

import (
	"sync"

	"github.com/voicectl/voicectl/server/placement"
)

// placer is what a Host and its Lender share: the workers both place routers
// on, the lock that orders every placement on them, and the load model that
// counts what both carry. A join and a relay request placed at the same time
// see each other's reservations, so the two roles never oversubscribe a
// worker between them.
type placer struct {
	// mu makes each placement (model, decision, reservation) see the ones
	// before it. Lock order: mu, then the host's mu (then a room's mu) or
	// the lender's mu.
	mu      sync.Mutex
	workers Workers
	lim     placement.Limits
	onNoCap func()

	// owned and lent are the rooms the host owns and the ones the lender
	// carries for other servers, as the load model sees them.
	owned, lent func() []placement.Room
	// draining reports the host's drain: the lender takes no relay either.
	draining func() bool
}

// loads is the load model of everything on this server's workers.
func (pl *placer) loads() placement.Loads {
	return placement.Model(append(pl.owned(), pl.lent()...), pl.lim.MaxForwardedSpeakers)
}

// place decides where one more peer of room goes, given loads.
func (pl *placer) place(room placement.Room, publish bool, loads placement.Loads) (placement.Decision, error) {
	return placement.Place(room, publish, pl.workers.Candidates(), loads, pl.lim)
}
