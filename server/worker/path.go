package worker

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// reportPath tells control how t reaches its peer (ipc.EventTransportPath):
// udp, tcp (RFC 6544) or relay (the peer's side of the pair is a TURN relayed
// address, RFC 8656), and the peer's address. It runs when the transport
// connects and whenever ICE selects another pair (a restart, a new network),
// and reports each path once.
func (t *transport) reportPath() {
	pair, err := t.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return
	}
	t.pathMu.Lock()
	defer t.pathMu.Unlock()
	p := ipc.TransportPath{
		TransportID: t.id,
		Path:        pathOf(pair, t.relays),
		Remote:      net.JoinHostPort(pair.Remote.Address, strconv.Itoa(int(pair.Remote.Port))),
	}
	if p == t.path {
		return
	}
	t.path = p
	t.w.log.Info("transport path", "transport", t.id, "path", string(p.Path), "remote", p.Remote)
	t.w.notify(ipc.EventTransportPath, p)
}

// pathOf is the path of pair. A peer's relayed candidate is often learnt
// from its checks (peer-reflexive) before its signalled candidate arrives;
// relays holds the relayed addresses the peer signalled, so that such a pair
// is still a relay.
func pathOf(pair *webrtc.ICECandidatePair, relays map[netip.AddrPort]bool) ipc.Path {
	if pair.Remote.Typ == webrtc.ICECandidateTypeRelay {
		return ipc.PathRelay
	}
	if addr, err := netip.ParseAddr(pair.Remote.Address); err == nil && relays[netip.AddrPortFrom(addr.Unmap(), pair.Remote.Port)] {
		return ipc.PathRelay
	}
	if pair.Local.Protocol == webrtc.ICEProtocolTCP {
		return ipc.PathTCP
	}
	return ipc.PathUDP
}

// noteRelays remembers the peer's TURN relayed candidates among raw (each
// an a=candidate value, with or without its "candidate:" prefix), and
// reports the path if that changes it: the pair may be on one.
func (t *transport) noteRelays(raw ...string) {
	var found []netip.AddrPort
	for _, r := range raw {
		if a, ok := relayOf(r); ok {
			found = append(found, a)
		}
	}
	if len(found) == 0 {
		return
	}
	t.pathMu.Lock()
	if t.relays == nil {
		t.relays = map[netip.AddrPort]bool{}
	}
	const maxRelays = 64 // bounded like the candidates a peer may send
	for _, a := range found {
		if len(t.relays) < maxRelays {
			t.relays[a] = true
		}
	}
	t.pathMu.Unlock()
	t.reportPath()
}

// relayOf is the address of candidate raw if it is a TURN relayed one.
func relayOf(raw string) (netip.AddrPort, bool) {
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(raw, "candidate:"))
	if err != nil || c.Type() != ice.CandidateTypeRelay || c.Port() < 0 || c.Port() > 65535 {
		return netip.AddrPort{}, false
	}
	addr, err := netip.ParseAddr(c.Address())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(c.Port())), true
}

// candidatesIn lists the a=candidate values of an SDP.
func candidatesIn(sdpText string) []string {
	var d sdp.SessionDescription
	if d.UnmarshalString(sdpText) != nil {
		return nil
	}
	var out []string
	for _, md := range d.MediaDescriptions {
		for _, a := range md.Attributes {
			if a.Key == "candidate" {
				out = append(out, a.Value)
			}
		}
	}
	return out
}
