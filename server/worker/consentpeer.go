package worker

import (
	"bytes"

	"github.com/pion/webrtc/v4"
)

// keepConsent has the worker's sockets keep the consent of t's peer on the
// selected candidate pair (see consentKeeper) while t is connected or only
// disconnected (our checks may bring it back), and stops otherwise. It runs on
// every connection-state and pair change.
func (t *transport) keepConsent() {
	if t.w.api == nil || t.w.api.sockets == nil {
		return
	}
	keeper := t.w.api.sockets.consent
	t.consentMu.Lock()
	defer t.consentMu.Unlock()
	if t.consentStopped {
		return // closed: a late state change must not start it again
	}
	var peer *consentPeer
	switch t.pc.ConnectionState() {
	case webrtc.PeerConnectionStateConnected, webrtc.PeerConnectionStateDisconnected:
		peer = t.consentPeer()
	}
	if t.consent != nil && (peer == nil || peer.remote != t.consent.remote || !bytes.Equal(peer.username, t.consent.username)) {
		keeper.remove(t.consent)
		t.consent = nil
	}
	if peer != nil && t.consent == nil {
		keeper.add(peer, t.w.api.timing.consentInterval)
		t.consent = peer
	}
}

// consentKept reports whether the worker's sockets keep the peer's consent.
func (t *transport) consentKept() bool {
	t.consentMu.Lock()
	defer t.consentMu.Unlock()
	return t.consent != nil
}

// stopConsent is for a transport that closes.
func (t *transport) stopConsent() {
	t.consentMu.Lock()
	defer t.consentMu.Unlock()
	t.consentStopped = true
	if t.consent != nil {
		t.w.api.sockets.consent.remove(t.consent)
		t.consent = nil
	}
}

// consentPeer reads the selected pair and both sides' ICE credentials, or
// returns nil.
func (t *transport) consentPeer() *consentPeer {
	ice := t.pc.SCTP().Transport().ICETransport()
	local, err := ice.GetLocalParameters()
	if err != nil {
		return nil
	}
	remote, err := ice.GetRemoteParameters()
	if err != nil || remote.UsernameFragment == "" || remote.Password == "" {
		return nil
	}
	sock, dst := t.selectedPath()
	if sock == nil {
		t.w.log.Debug("consent checks left to pion: no worker socket for the selected pair", "transport", t.id)
		return nil
	}
	p := newConsentPeer(dst, local.UsernameFragment, remote.UsernameFragment, local.Password, remote.Password, sock.writeTo)
	// Our role until the peer's checks show theirs (the worker offers, so it
	// normally controls).
	if ice.Role() == webrtc.ICERoleControlled {
		p.ourRole = attrICEControlled
	} else {
		p.ourRole = attrICEControlling
	}
	return p
}
