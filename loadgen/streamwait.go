package loadgen

import (
	"context"
	"time"
)

// streamWaitLimit bounds how long the window waits, past the warmup, for
// every listener to hear every publisher of its room. A stream still missing
// then is measured as it is: its packets count as lost (or the listener as
// missing streams).
const streamWaitLimit = 5 * time.Second

// awaitStreams waits until every listener hears every publisher of its room
// (hears, polled), at most limit, and returns how long it waited. Why: the warmup is a fixed
// time, and how long a stream takes to start is not — a listener placed on
// another host hears a publisher once the owner has piped that publisher to
// its relay, which asks the relay over the broker. A window opened before
// would count the set-up as loss on a network that lost nothing.
func awaitStreams(ctx context.Context, peers []*peer, limit time.Duration, hears func(l, q *peer) bool) time.Duration {
	start := time.Now()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for !everyListenerHears(peers, hears) {
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-deadline.C:
			return time.Since(start)
		case <-tk.C:
		}
	}
	return time.Since(start)
}

// everyListenerHears reports whether hears(l, q) holds for every peer l and
// every other publisher q of l's room (publishers listen to each other too).
func everyListenerHears(peers []*peer, hears func(l, q *peer) bool) bool {
	publishers := map[string][]*peer{} // by room: a calibration has thousands of peers
	for _, q := range peers {
		if q.publish {
			publishers[q.room] = append(publishers[q.room], q)
		}
	}
	for _, l := range peers {
		for _, q := range publishers[l.room] {
			if q != l && !hears(l, q) {
				return false
			}
		}
	}
	return true
}

// hears reports whether l has received a packet of q's stream.
func (l *peer) hears(q *peer) bool {
	st := l.streamFrom(q)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.packets > 0
}

// streamFrom is l's stream of q's packets, nil before l heard of it.
func (l *peer) streamFrom(q *peer) *stream {
	lc, qid := l.client(), q.client().PeerID()
	l.mu.Lock()
	defer l.mu.Unlock()
	for ssrc, st := range l.streams {
		if id, ok := lc.PeerOfSSRC(ssrc); ok && id == qid {
			return st
		}
	}
	return nil
}
