package worker

import (
	"net/netip"

	"github.com/pion/webrtc/v4"
)

// answerConsent has the worker's sockets answer the consent checks of t's peer
// on the selected candidate pair (see consentAnswerer), or stops when t is not
// connected. It runs on every connection-state and pair change.
func (t *transport) answerConsent() {
	if t.w.api == nil || t.w.api.sockets == nil {
		return
	}
	answerer := t.w.api.sockets.consent
	t.consentMu.Lock()
	defer t.consentMu.Unlock()
	var remote netip.AddrPort
	var peer *consentPeer
	if t.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
		remote, peer = t.consentPeer()
	}
	if t.consent.peer != nil && (t.consent.remote != remote || peer == nil) {
		answerer.remove(t.consent.remote, t.consent.peer)
		t.consent.peer = nil
	}
	if peer != nil && t.consent.peer == nil {
		answerer.add(remote, peer)
		t.consent.remote, t.consent.peer = remote, peer
	}
}

// stopAnsweringConsent is for a transport that closes.
func (t *transport) stopAnsweringConsent() {
	if t.w.api == nil || t.w.api.sockets == nil {
		return
	}
	t.consentMu.Lock()
	defer t.consentMu.Unlock()
	if t.consent.peer != nil {
		t.w.api.sockets.consent.remove(t.consent.remote, t.consent.peer)
		t.consent.peer = nil
	}
}

// consentPeer reads the selected pair's remote address and both sides' ICE
// credentials, or returns nil.
func (t *transport) consentPeer() (netip.AddrPort, *consentPeer) {
	ice := t.pc.SCTP().Transport().ICETransport()
	local, err := ice.GetLocalParameters()
	if err != nil {
		return netip.AddrPort{}, nil
	}
	remote, err := ice.GetRemoteParameters()
	if err != nil || remote.UsernameFragment == "" {
		return netip.AddrPort{}, nil
	}
	sock, dst := t.selectedPath()
	if sock == nil {
		return netip.AddrPort{}, nil
	}
	return dst, newConsentPeer(local.UsernameFragment, remote.UsernameFragment, local.Password)
}
