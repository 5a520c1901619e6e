package worker

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// ingressTable takes connected publishers' RTP off the worker's sockets in
// their read loop: it decrypts each packet (RFC 3711 §3.3, RFC 7714 §9) with
// the publisher's DTLS-SRTP keys and fans it out there, instead of handing it
// to pion.
//
// Why: through pion a packet crossed four goroutines after the socket's reader
// (the ICE candidate's read loop, the DTLS/SRTP mux, the SRTP session, the
// track reader), each a copy and a hand-over through the scheduler; perf of a
// worker forwarding 2 publishers to 200 listeners put that chain at about 7%
// of its CPU, plus its share of the scheduler's.
//
// Pion still brings up each stream: its first packets open the track, and the
// track's reader opens the ingress once it has one (producer.readTrack); the
// packets pion has buffered by then still come out of the track. Only RTP of
// the stream's SSRC from the transport's selected remote address is taken;
// RTCP, STUN, DTLS and anything else go to pion as before. A packet that does
// not authenticate before the ingress has opened one goes to pion too (keys
// that did not match would leave the stream to pion); after that it is a
// replay or a forgery and is dropped, as pion drops them.
type ingressTable struct {
	mu       sync.Mutex
	byRemote atomic.Pointer[map[netip.AddrPort]*ingress]

	// taken counts packets decrypted and forwarded here, rejected those
	// dropped for failing to authenticate or as replays.
	taken, rejected atomic.Uint64
}

// ingress is one publisher's stream as the worker's sockets take it.
type ingress struct {
	p    *producer
	ssrc uint32

	mu     sync.Mutex // the context and buffers: sockets' readers may share a remote
	ctx    *srtp.Context
	header rtp.Header
	pkt    rtp.Packet
	opened bool // a packet authenticated
	failed int  // packets that did not, before one did
}

// srtpReplayWindow is how far back a packet may come and still be accepted
// once (RFC 3711 §3.3.2): pion's default for its sessions.
const srtpReplayWindow = 64

// maxIngressFailures is how many packets may fail to authenticate before any
// has: then the keys are not the publisher's and the stream stays with pion.
const maxIngressFailures = 8

// newIngress opens the stream ssrc of p, which its publisher protects with
// keys, and with RTP header encryption (RFC 9335) as cryptex says.
func newIngress(p *producer, ssrc uint32, keys *srtpKeys, cryptex srtp.CryptexMode) (*ingress, error) {
	ctx, err := srtp.CreateContext(keys.key, keys.salt, keys.profile, srtp.SRTPReplayProtection(srtpReplayWindow), srtp.Cryptex(cryptex))
	if err != nil {
		return nil, err
	}
	return &ingress{p: p, ssrc: ssrc, ctx: ctx}, nil
}

// set makes ing the ingress of packets from remote.
func (t *ingressTable) set(remote netip.AddrPort, ing *ingress) {
	t.update(func(m map[netip.AddrPort]*ingress) { m[remote] = ing })
}

// remove forgets remote's ingress if it is still ing.
func (t *ingressTable) remove(remote netip.AddrPort, ing *ingress) {
	t.update(func(m map[netip.AddrPort]*ingress) {
		if m[remote] == ing {
			delete(m, remote)
		}
	})
}

// update changes a copy of the table: readers look it up without a lock, and
// publishers come and go rarely.
func (t *ingressTable) update(change func(map[netip.AddrPort]*ingress)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := map[netip.AddrPort]*ingress{}
	if old := t.byRemote.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	change(next)
	t.byRemote.Store(&next)
}

func (t *ingressTable) lookup(remote netip.AddrPort) *ingress {
	m := t.byRemote.Load()
	if m == nil {
		return nil
	}
	return (*m)[remote]
}

// take forwards pkt, a datagram from remote, if it is RTP of a publisher's
// stream, decrypting it into plain (a buffer of the reader's). It reports
// whether the packet was the ingress's: pion must not see it then.
func (t *ingressTable) take(pkt []byte, remote netip.AddrPort, plain []byte) bool {
	// RTP, not RTCP: version 2 and a payload type outside 64–95 (RFC 5761 §4).
	if len(pkt) < 12 || pkt[0]>>6 != 2 || (pkt[1] >= 192 && pkt[1] <= 223) || len(pkt) > cap(plain) {
		return false
	}
	ing := t.lookup(remote)
	if ing == nil || binary.BigEndian.Uint32(pkt[8:12]) != ing.ssrc {
		return false
	}
	out, res := ing.open(pkt, plain)
	switch res {
	case opened:
		t.taken.Add(1)
		ing.p.dispatch(out, &ing.pkt)
		return true
	case rejected:
		t.rejected.Add(1)
		return true
	case gaveUp:
		t.remove(remote, ing)
	}
	return false
}

type openResult int

const (
	opened   openResult = iota
	rejected            // dropped: a replay or a forgery
	toPion              // not authenticated, none has been yet: pion decides
	gaveUp              // the same, and the ingress gives its stream up to pion
)

// open decrypts pkt into plain and parses it into ing.pkt.
func (ing *ingress) open(pkt, plain []byte) ([]byte, openResult) {
	ing.mu.Lock()
	defer ing.mu.Unlock()
	out, err := ing.ctx.DecryptRTP(plain[:0], pkt, &ing.header)
	if err == nil {
		err = ing.pkt.Unmarshal(out)
	}
	switch {
	case err == nil:
		ing.opened = true
		return out, opened
	case ing.opened:
		return nil, rejected
	}
	ing.failed++
	if ing.failed >= maxIngressFailures {
		return nil, gaveUp
	}
	return nil, toPion
}

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
	t.ingress, t.ingressAt = ing, rt.remote
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

// consentKept reports whether the worker's sockets keep the peer's consent.
func (t *transport) consentKept() bool {
	t.consentMu.Lock()
	defer t.consentMu.Unlock()
	return t.consent != nil
}
