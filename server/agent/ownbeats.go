package agent

import (
	"sync"
	"time"
)

// ownBeats watches this server's own heartbeats come back through the
// broker. While none has within two heartbeats, the broker carries nothing
// to this server (it is stalled, or this server is cut from it), so the
// other servers' silence says nothing of them: none is dropped, and once
// the beats come back the outage is not counted against them. The API
// follows the same rule with its own beats (api/service's busWatch):
// without it a stalled broker made an owner drop a live relay and send the
// relay's peers to reconnect, media flowing all the while.
type ownBeats struct {
	window time.Duration

	mu        sync.Mutex
	back      time.Time // the last own beat back
	downSince time.Time // the last own beat back before an outage; zero while up
}

func newOwnBeats(heartbeat time.Duration, now time.Time) *ownBeats {
	return &ownBeats{window: 2 * heartbeat, back: now}
}

// heard records an own beat back at now.
func (o *ownBeats) heard(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now.After(o.back) {
		o.back = now
	}
}

// check reports whether the server may judge the others' silence at now,
// and, the first time after an outage, how long it lasted (their silence
// during it is to be excused).
func (o *ownBeats) check(now time.Time) (up bool, outage time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now.Sub(o.back) > o.window {
		if o.downSince.IsZero() {
			o.downSince = o.back
		}
		return false, 0
	}
	if !o.downSince.IsZero() {
		outage, o.downSince = now.Sub(o.downSince), time.Time{}
	}
	return true, outage
}
