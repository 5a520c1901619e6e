package agent

import (
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// lease is this server's claim on its rooms (docs/architecture.md, "One
// home per room"). It is renewed by the server's own heartbeat seen back on
// the bus (the API hears it too) and by the API's probe over HTTP (the API
// reached it), and lapses cluster.Lease after the last renewal: shorter
// than dead_after, so a server the API can reach by neither channel stops
// admitting joins before the API may declare it dead. A lapse past
// dead_after sends the peers back to the API (the room may have a new home
// by now), and after such a lapse the fence holds two heartbeats more, the
// time the API takes to have a moved room released here.
type lease struct {
	length, deadAfter, hold time.Duration

	mu        sync.Mutex
	renewed   time.Time
	holdUntil time.Time
	sentAway  bool
}

func newLease(heartbeat, deadAfter time.Duration, now time.Time) *lease {
	return &lease{length: cluster.Lease(heartbeat, deadAfter), deadAfter: deadAfter, hold: 2 * heartbeat, renewed: now}
}

// renew records a sign, at, that the cluster hears this server.
func (l *lease) renew(at, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !at.After(l.renewed) {
		return
	}
	if at.Sub(l.renewed) > l.deadAfter {
		l.holdUntil = now.Add(l.hold)
	}
	l.renewed, l.sentAway = at, false
}

// held reports whether joins are admitted at now.
func (l *lease) held(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return now.Sub(l.renewed) <= l.length && !now.Before(l.holdUntil)
}

// until is when the lease lapses.
func (l *lease) until() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewed.Add(l.length)
}

// sendAway reports, once per lapse, that the lapse passed dead_after.
func (l *lease) sendAway(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sentAway || now.Sub(l.renewed) <= l.deadAfter {
		return false
	}
	l.sentAway = true
	return true
}

// Vouched renews the lease: the API reached this server over HTTP. It
// returns when the lease lapses now.
func (a *Agent) Vouched() time.Time {
	now := time.Now()
	a.lease.renew(now, now)
	return a.lease.until()
}

// Leased reports whether this server admits joins to its rooms: its lease
// is held (roomhost.Host.SetLease).
func (a *Agent) Leased() bool { return a.lease.held(time.Now()) }

// checkLease logs the fence going up or down and, past dead_after, sends
// the peers back to the API.
func (a *Agent) checkLease() {
	now := time.Now()
	held := a.lease.held(now)
	if held != a.wasLeased {
		a.wasLeased = held
		if held {
			a.log.Info("lease renewed: joins to our rooms admitted again")
		} else {
			a.log.Warn("lease lapsed: neither our heartbeats nor the API's probe confirm us; no joins to our rooms", "lease", a.lease.length)
		}
	}
	if a.lease.sendAway(now) {
		n := a.p.Host.SendAway(wire.ReconnectMoved)
		a.log.Warn("cut off past dead_after: peers sent back to the API", "peers", n)
	}
}
