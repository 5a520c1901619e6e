package worker

import (
	"net/netip"

	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// openIngress lets the worker's sockets take p's stream, of SSRC ssrc, from now
// on. It reports whether that is settled: the ingress opened, or the transport
// cannot have one (pion's write path, so no keys of ours; closed); false when
// the transport has no route or kept consent yet, to be asked again.
func (t *transport) openIngress(p *producer, ssrc uint32) bool {
	t.routeMu.Lock()
	defer t.routeMu.Unlock()
	rt := t.route.Load()
	if rt == nil && !t.ingressClosed {
		return false
	}
	if t.ingressClosed || !rt.fast() || !rt.remote.IsValid() || t.ingress != nil || t.w.api == nil || t.w.api.sockets == nil {
		return true
	}
	if !t.consentKept() {
		// Pion would hear nothing of the peer once its RTP stops reaching
		// it; the sockets' consent checks are what tell it then. They start
		// just after the route; ask again.
		return false
	}
	keys := t.keys.peerKeys()
	if keys == nil {
		return true
	}
	ing, err := newIngress(p, ssrc, keys, receiveCryptexMode(t.pc.LocalDescription()))
	if err != nil {
		t.w.log.Debug("publisher's stream stays with pion", "transport", t.id, "err", err)
		return true
	}
	if p.stats != nil {
		// A stream that reached the worker through pion for long enough to
		// wrap its sequence numbers (RFC 3711 §3.3.1) continues with that
		// rollover counter.
		ing.ctx.SetROC(ssrc, p.stats.rollovers(ssrc))
	}
	t.ingress, t.ingressAt = ing, rt.remote
	go ing.run()
	t.w.api.sockets.ingress.set(rt.remote, ing)
	return true
}

// moveIngressLocked follows ICE to the transport's new remote address;
// t.routeMu is held.
func (t *transport) moveIngressLocked(remote netip.AddrPort) {
	if t.ingress == nil || remote == t.ingressAt {
		return
	}
	table := t.w.api.sockets.ingress
	table.remove(t.ingressAt, t.ingress)
	table.set(remote, t.ingress)
	t.ingressAt = remote
}

// closeIngress hands nothing more to the transport's producer.
func (t *transport) closeIngress() {
	t.routeMu.Lock()
	defer t.routeMu.Unlock()
	t.ingressClosed = true
	if t.ingress != nil {
		t.w.api.sockets.ingress.remove(t.ingressAt, t.ingress)
		t.ingress.stop()
		t.ingress = nil
	}
}

// receiveCryptexMode is whether the worker accepts RTP header encryption
// (RFC 9335) from the peer, as pion decides it: a=cryptex in the worker's own
// description declares that its side can receive it (§4), and then packets
// may come either way.
func receiveCryptexMode(local *webrtc.SessionDescription) srtp.CryptexMode {
	if local == nil {
		return srtp.CryptexModeDisabled
	}
	parsed, err := local.Unmarshal()
	if err != nil {
		return srtp.CryptexModeDisabled
	}
	if _, ok := parsed.Attribute(sdp.AttrKeyCryptex); ok {
		return srtp.CryptexModeEnabled
	}
	for _, m := range parsed.MediaDescriptions {
		if _, ok := m.Attribute(sdp.AttrKeyCryptex); ok {
			return srtp.CryptexModeEnabled
		}
	}
	return srtp.CryptexModeDisabled
}
