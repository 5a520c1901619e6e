package auth

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Attempts bounds wrong-key attempts per remote address: each address may
// fail a few times a second (a burst more); past that it is refused before
// its key is even compared, until its allowance refills. Without it a wrong
// admin key was answered 11,000 times a second: a free guessing machine.
type Attempts struct {
	perSecond rate.Limit
	burst     int

	mu     sync.Mutex
	byAddr map[string]*attempt
}

type attempt struct {
	lim    *rate.Limiter
	warned time.Time // last time this address's refusals were logged
}

// maxTrackedAddrs bounds the table; when full it starts again (an attacker
// with that many addresses gets one burst each, not more).
const maxTrackedAddrs = 4096

// NewAttempts allows perSecond failures per address, burst at once.
func NewAttempts(perSecond float64, burst int) *Attempts {
	return &Attempts{perSecond: rate.Limit(perSecond), burst: burst, byAddr: map[string]*attempt{}}
}

// RemoteHost is the address part of an http.Request's RemoteAddr: what the
// per-address bounds (wrong keys here, connections in control) count by.
func RemoteHost(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

func (a *Attempts) get(remote string) *attempt {
	host := RemoteHost(remote)
	at := a.byAddr[host]
	if at == nil {
		if len(a.byAddr) >= maxTrackedAddrs {
			a.byAddr = map[string]*attempt{}
		}
		at = &attempt{lim: rate.NewLimiter(a.perSecond, a.burst)}
		a.byAddr[host] = at
	}
	return at
}

// Blocked reports whether remote has used up its failures for now.
func (a *Attempts) Blocked(remote string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.get(remote).lim.Tokens() < 1
}

// Failed counts a wrong key from remote; firstInAWhile is true when this
// address has not been logged for a minute (log it then, not each time).
func (a *Attempts) Failed(remote string) (firstInAWhile bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := a.get(remote)
	at.lim.Allow()
	if time.Since(at.warned) > time.Minute {
		at.warned = time.Now()
		return true
	}
	return false
}
