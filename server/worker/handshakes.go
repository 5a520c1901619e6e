package worker

import "time"

// handshakeLimit is how long a transport counts as connecting at most. Joins
// take a second or two; one still connecting after this is failing (a peer
// whose checks never arrive stays "checking" until pion gives up, 30 s) and
// no longer needs the control plane to keep pace with fan-outs.
const handshakeLimit = 10 * time.Second

// handshakeStarted counts t in the worker's transports connecting: from its
// first ICE check (the peer's answer applied) until it connects, fails or
// closes, or handshakeLimit has passed. While any count, fan-outs let the
// runtime hand the worker's P to the control plane (see sendSocket.sendmmsg),
// which costs the whole worker about a tenth more CPU per forwarded packet.
// Counting from the transport's creation kept every fan-out of the worker in
// that mode as long as one listener waited with nobody to hear, or one peer
// never completed its checks.
func (t *transport) handshakeStarted() {
	t.handshakeMu.Lock()
	defer t.handshakeMu.Unlock()
	if t.handshakeClosed || !t.handshaking.CompareAndSwap(false, true) {
		return // closing (a state change that raced with closeTransport), or counted
	}
	t.w.handshakes.Add(1)
	limit := t.w.handshakeLimit
	if limit == 0 {
		limit = handshakeLimit
	}
	if t.handshakeTimer == nil {
		t.handshakeTimer = time.AfterFunc(limit, t.handshakeEnded)
	} else {
		t.handshakeTimer.Reset(limit)
	}
}

// handshakeEnded takes t out of the worker's count of transports connecting.
func (t *transport) handshakeEnded() {
	if t.handshaking.CompareAndSwap(true, false) {
		t.w.handshakes.Add(-1)
	}
}

// stopHandshakeTimer ends t's count for good, as it closes.
func (t *transport) stopHandshakeTimer() {
	t.handshakeMu.Lock()
	t.handshakeClosed = true
	if t.handshakeTimer != nil {
		t.handshakeTimer.Stop()
	}
	t.handshakeMu.Unlock()
	t.handshakeEnded()
}
