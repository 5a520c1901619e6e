package worker

// restartICE answers a client that lost its path or changed its address
// (transport.restart_ice): the worker offers again with fresh ICE
// credentials (RFC 8445 §9, RFC 8839 §4.4.1.1.1), pion gathers and checks
// anew, and the transport moves to the pair that works. Everything above ICE
// stays: the DTLS association and its SRTP keys (RFC 8842 §5.3 keeps the
// roles), producers, consumers and their SSRCs. The route, the ingress and
// the consent checks follow the new selected pair (updateRoute,
// moveIngressLocked, keepConsent); until it is selected the worker keeps
// writing to the last address, which may still work.
//
// An offer already out is answered first: the restart is the next offer
// (negotiate's dirty flag). A transport that never offered has nothing to
// restart: its first offer has fresh credentials.
func (t *transport) restartICE() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return notFound("transport", t.id)
	}
	if t.pc.LocalDescription() == nil {
		return nil
	}
	t.restart = true
	if t.negotiating {
		t.w.log.Info("ICE restart waits for the answer to the offer that is out", "transport", t.id)
		t.dirty = true
		return nil
	}
	return t.offerLocked()
}
