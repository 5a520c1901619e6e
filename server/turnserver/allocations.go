package turnserver

import (
	"net/netip"
	"sync"
)

// allocations are the live allocations: counted per credential and in all
// for the quotas, and found by relayed address for Protocol.
type allocations struct {
	maxTotal, maxPerUser int

	mu      sync.Mutex
	total   int // reserved, whether or not the socket is open yet
	perUser map[string]int
	byAddr  map[netip.AddrPort]*relayConn
}

func newAllocations(maxTotal, maxPerUser int) *allocations {
	return &allocations{maxTotal: maxTotal, maxPerUser: maxPerUser, perUser: map[string]int{}, byAddr: map[netip.AddrPort]*relayConn{}}
}

// fits reports whether user may allocate now (pion's QuotaHandler: a 486
// answer).
func (a *allocations) fits(user string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total < a.maxTotal && a.perUser[user] < a.maxPerUser
}

// reserve takes one allocation of user's quota, or fails: the check that
// holds when two allocations race past fits.
func (a *allocations) reserve(user string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.total >= a.maxTotal || a.perUser[user] >= a.maxPerUser {
		return ErrQuota
	}
	a.total++
	a.perUser[user]++
	return nil
}

// release gives back a reservation whose socket was never opened.
func (a *allocations) release(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(user)
}

func (a *allocations) releaseLocked(user string) {
	a.total--
	if a.perUser[user]--; a.perUser[user] <= 0 {
		delete(a.perUser, user)
	}
}

func (a *allocations) add(c *relayConn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byAddr[c.relayed] = c
}

// remove forgets a closed allocation and releases its reservation.
func (a *allocations) remove(c *relayConn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byAddr[c.relayed] == c {
		delete(a.byAddr, c.relayed)
	}
	a.releaseLocked(c.user)
	c.srv.metrics.allocations.WithLabelValues(c.proto).Dec()
}

func (a *allocations) lookup(relayed netip.AddrPort) (*relayConn, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.byAddr[relayed]
	return c, ok
}

// all lists the live allocations' sockets.
func (a *allocations) all() []*relayConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*relayConn, 0, len(a.byAddr))
	for _, c := range a.byAddr {
		out = append(out, c)
	}
	return out
}
