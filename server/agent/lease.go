package agent

import (
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// lease is this server's claim on its rooms (docs/architecture.md, "One
// home per room"). It is renewed when the server's own heartbeat comes back
// on the bus (the API hears the same broker at the same time) and by the
// API's probe over HTTP (the API reached it), and lapses cluster.Lease after
// the last renewal: shorter than dead_after, so a server the API can reach
// by neither channel stops admitting joins before the API may declare it
// dead.
//
// A lapse longer than the API needs to declare the server dead and re-home
// its rooms (sendAwayAfter) sends the peers back to the API, which answers
// with the rooms' new homes; and after a lapse past dead_after the fence
// holds one heartbeat more once renewed, the time the API takes to have a
// moved room released here. Time the server itself did not run (a stall, a
// SIGSTOP: its checks far apart) counts for no send-away: the API's
// release of the moved rooms is what sends those peers on.
type lease struct {
	length, deadAfter, sendAwayAfter, hold time.Duration

	mu        sync.Mutex
	renewed   time.Time
	holdUntil time.Time
	sentAway  bool
	// awake is since when the server's checks ran without a gap.
	awake, lastCheck time.Time
}

func newLease(heartbeat, deadAfter time.Duration, now time.Time) *lease {
	probe := min(max(heartbeat, 500*time.Millisecond), 2*time.Second) // the API's probe timeout
	return &lease{length: cluster.Lease(heartbeat, deadAfter), deadAfter: deadAfter, sendAwayAfter: deadAfter + probe + heartbeat,
		hold: heartbeat, renewed: now, awake: now, lastCheck: now}
}

// renew records that the cluster heard this server at now; sent is when
// the sign left (a heartbeat's SentAt): one older than the lease, delivered
// late, renews nothing.
func (l *lease) renew(sent, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(sent) > l.length || !now.After(l.renewed) {
		return
	}
	if now.Sub(l.renewed) > l.deadAfter {
		l.holdUntil = now.Add(l.hold)
	}
	l.renewed, l.sentAway = now, false
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

// check is the agent's periodic look (every every); it reports, once per
// lapse, that the peers must be sent back to the API: the lapse, awake,
// passed sendAwayAfter.
func (l *lease) check(now time.Time, every time.Duration) (sendAway bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastCheck) > 2*every+l.length/2 {
		l.awake = now // it did not run meanwhile
	}
	l.lastCheck = now
	since := l.renewed
	if l.awake.After(since) {
		since = l.awake
	}
	if l.sentAway || now.Sub(since) <= l.sendAwayAfter {
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

// checkLease logs the fence going up or down and sends the peers back to
// the API once the lapse outlasted a re-home.
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
	if a.lease.check(now, a.p.CheckEvery) && a.p.Host != nil {
		n := a.p.Host.SendAway(wire.ReconnectMoved)
		a.log.Warn("cut off for longer than a re-home takes: peers sent back to the API", "peers", n)
	}
}
