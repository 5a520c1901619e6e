package worker

import "time"

// retransmitLimiter is a token bucket on one listener's retransmissions: a
// listener that asks for everything (a broken client, or one behind a path
// that loses most packets, where re-sending only adds to the load) costs at
// most retransmitRate packets a second after a burst of retransmitBurst.
// It is used under its producer's dispatchMu.
type retransmitLimiter struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill; 0: full
}

const (
	// retransmitRate is a quarter of a 20 ms stream: at 25 % loss a listener
	// still gets every packet back once.
	retransmitRate = 12.5
	// retransmitBurst answers a burst of loss as long as ~300 ms at once.
	retransmitBurst = 16
)

// allow takes a token at now, reporting whether there was one.
func (l *retransmitLimiter) allow(now int64) bool {
	if l.last == 0 {
		l.tokens, l.last = retransmitBurst, now
	}
	if elapsed := now - l.last; elapsed > 0 {
		l.tokens = min(retransmitBurst, l.tokens+float64(elapsed)*retransmitRate/float64(time.Second))
		l.last = now
	}
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
