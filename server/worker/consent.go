package worker

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // STUN's MESSAGE-INTEGRITY is HMAC-SHA1 (RFC 8489 §14.5)
	"encoding/binary"
	"hash"
	"hash/crc32"
	"net/netip"
	"sync"
	"sync/atomic"
)

// consentAnswerer answers the binding requests that connected peers send to
// keep their consent to receive media fresh (RFC 7675; a browser sends one
// every 2–5 s), in the socket's read loop, before pion's ICE mux sees them.
//
// Why: through pion each request crossed three goroutines (the mux reader, the
// candidate's read loop, the agent's task loop) and allocated some forty
// objects; with hundreds of listeners per worker that was most of the worker's
// allocations and, with its scheduling, a tenth of its CPU.
//
// Only the requests of a transport's selected candidate pair are answered here,
// and only plain consent checks: a request that nominates (USE-CANDIDATE, the
// renomination attribute), changes the peer's ICE role or tie-breaker, fails
// any check, or carries an attribute this code does not know still goes to
// pion, which decides. The worker's own checks (pion's keepalives) keep
// telling pion whether the peer is there.
type consentAnswerer struct {
	mu    sync.RWMutex
	peers map[netip.AddrPort]*consentPeer
	// answered counts the requests answered here (tests and the worker's stats).
	answered atomic.Uint64
}

// consentPeer is what answering one transport's peer takes: the USERNAME its
// requests carry, our ICE password (the short-term credential, RFC 8489 §9.1)
// and the role and tie-breaker it showed pion last. Buffers are reused under mu.
type consentPeer struct {
	username []byte

	mu         sync.Mutex
	mac        hash.Hash
	learned    bool
	role       uint16
	tieBreaker uint64
	length     [2]byte
	sum        [sha1.Size]byte
	resp       [consentResponseLen]byte
}

// STUN (RFC 8489) and ICE (RFC 8445 §16.1) wire constants.
const (
	stunHeaderLen       = 20
	stunMagicCookie     = 0x2112A442
	stunBindingRequest  = 0x0001
	stunBindingSuccess  = 0x0101
	stunFingerprintXOR  = 0x5354554e
	attrUsername        = 0x0006
	attrIntegrity       = 0x0008
	attrXORMapped       = 0x0020
	attrPriority        = 0x0024
	attrUseCandidate    = 0x0025
	attrFingerprint     = 0x8028
	attrICEControlled   = 0x8029
	attrICEControlling  = 0x802A
	attrNomination      = 0xC001 // ICE renomination (pion, libwebrtc)
	integrityAttrLen    = 4 + sha1.Size
	fingerprintAttrLen  = 8
	xorMappedAttrLen    = 12
	consentResponseLen  = stunHeaderLen + xorMappedAttrLen + integrityAttrLen + fingerprintAttrLen
	consentResponseBody = xorMappedAttrLen + integrityAttrLen
)

func newConsentAnswerer() *consentAnswerer {
	return &consentAnswerer{peers: map[netip.AddrPort]*consentPeer{}}
}

// newConsentPeer: requests to us carry USERNAME "ours:theirs" (RFC 8445 §7.2.2)
// and are signed with our password.
func newConsentPeer(localUfrag, remoteUfrag, localPwd string) *consentPeer {
	return &consentPeer{
		username: []byte(localUfrag + ":" + remoteUfrag),
		mac:      hmac.New(sha1.New, []byte(localPwd)),
	}
}

// add answers remote's consent checks with p from now on.
func (a *consentAnswerer) add(remote netip.AddrPort, p *consentPeer) {
	a.mu.Lock()
	a.peers[remote] = p
	a.mu.Unlock()
}

// remove stops answering for remote, if p is still the one answering there.
func (a *consentAnswerer) remove(remote netip.AddrPort, p *consentPeer) {
	a.mu.Lock()
	if a.peers[remote] == p {
		delete(a.peers, remote)
	}
	a.mu.Unlock()
}

func (a *consentAnswerer) peer(remote netip.AddrPort) *consentPeer {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.peers[remote]
}

// answer handles pkt from remote if it is a consent check of a known peer:
// it writes the binding success response with write and reports true. Anything
// else is left to pion (false), nothing written.
func (a *consentAnswerer) answer(pkt []byte, remote netip.AddrPort, write func([]byte, netip.AddrPort) (int, error)) bool {
	if !isBindingRequest(pkt) || !remote.Addr().Is4() {
		return false
	}
	p := a.peer(remote)
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	resp, ok := p.respond(pkt, remote)
	if !ok {
		return false
	}
	// A lost response is a lost datagram: the peer checks again.
	_, _ = write(resp, remote)
	a.answered.Add(1)
	return true
}

// isBindingRequest checks the fixed header (RFC 8489 §5).
func isBindingRequest(pkt []byte) bool {
	return len(pkt) >= stunHeaderLen+fingerprintAttrLen && len(pkt)%4 == 0 &&
		binary.BigEndian.Uint16(pkt[0:2]) == stunBindingRequest &&
		int(binary.BigEndian.Uint16(pkt[2:4])) == len(pkt)-stunHeaderLen &&
		binary.BigEndian.Uint32(pkt[4:8]) == stunMagicCookie
}

// respond validates a binding request the way pion's agent would for a pair
// it has selected and returns the success response, or false.
func (p *consentPeer) respond(pkt []byte, remote netip.AddrPort) ([]byte, bool) {
	var (
		username   []byte
		integrity  = -1 // offset of MESSAGE-INTEGRITY
		role       uint16
		tieBreaker uint64
	)
	off := stunHeaderLen
	for off+4 <= len(pkt) {
		typ := binary.BigEndian.Uint16(pkt[off:])
		n := int(binary.BigEndian.Uint16(pkt[off+2:]))
		val := off + 4
		if val+n > len(pkt) {
			return nil, false
		}
		if integrity >= 0 && typ != attrFingerprint {
			return nil, false // only FINGERPRINT may follow the integrity (§14.5)
		}
		switch typ {
		case attrUsername:
			username = pkt[val : val+n]
		case attrIntegrity:
			if n != sha1.Size {
				return nil, false
			}
			integrity = off
		case attrFingerprint:
			// Last, and it covers everything before it (§14.7).
			if n != 4 || val+n != len(pkt) || integrity < 0 ||
				crc32.ChecksumIEEE(pkt[:off])^stunFingerprintXOR != binary.BigEndian.Uint32(pkt[val:]) {
				return nil, false
			}
		case attrICEControlled, attrICEControlling:
			if n != 8 || role != 0 {
				return nil, false
			}
			role, tieBreaker = typ, binary.BigEndian.Uint64(pkt[val:])
		case attrPriority:
		case attrUseCandidate, attrNomination:
			return nil, false // a nomination: pion's business
		default:
			if typ < 0x8000 {
				return nil, false // comprehension-required and unknown here (§15)
			}
		}
		off = val + (n+3)&^3
	}
	if off != len(pkt) || integrity < 0 || role == 0 || !bytes.Equal(username, p.username) {
		return nil, false
	}
	if !p.checkIntegrity(pkt, integrity) {
		return nil, false
	}
	// The first request, and any that shows another role or tie-breaker (a
	// role conflict, RFC 8445 §7.3.1.1), is pion's; what it answered we repeat.
	if !p.learned || role != p.role || tieBreaker != p.tieBreaker {
		p.learned, p.role, p.tieBreaker = true, role, tieBreaker
		return nil, false
	}
	return p.successResponse(pkt[8:stunHeaderLen], remote), true
}

// checkIntegrity verifies the HMAC-SHA1 at offset mi, computed over the message
// up to it with the header's length covering it (RFC 8489 §14.5).
func (p *consentPeer) checkIntegrity(pkt []byte, mi int) bool {
	binary.BigEndian.PutUint16(p.length[:], uint16(mi+integrityAttrLen-stunHeaderLen))
	p.mac.Reset()
	p.mac.Write(pkt[:2])
	p.mac.Write(p.length[:])
	p.mac.Write(pkt[4:mi])
	return hmac.Equal(p.mac.Sum(p.sum[:0]), pkt[mi+4:mi+integrityAttrLen])
}

// successResponse builds the binding success response to transaction id:
// XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT, as pion sends it.
func (p *consentPeer) successResponse(id []byte, remote netip.AddrPort) []byte {
	r := p.resp[:]
	binary.BigEndian.PutUint16(r[0:], stunBindingSuccess)
	binary.BigEndian.PutUint16(r[2:], consentResponseBody)
	binary.BigEndian.PutUint32(r[4:], stunMagicCookie)
	copy(r[8:stunHeaderLen], id)

	x := r[stunHeaderLen:]
	binary.BigEndian.PutUint16(x[0:], attrXORMapped)
	binary.BigEndian.PutUint16(x[2:], 8)
	x[4], x[5] = 0, 0x01 // IPv4
	binary.BigEndian.PutUint16(x[6:], remote.Port()^(stunMagicCookie>>16))
	ip := remote.Addr().As4()
	binary.BigEndian.PutUint32(x[8:], binary.BigEndian.Uint32(ip[:])^stunMagicCookie)

	mi := stunHeaderLen + xorMappedAttrLen
	binary.BigEndian.PutUint16(r[mi:], attrIntegrity)
	binary.BigEndian.PutUint16(r[mi+2:], sha1.Size)
	p.mac.Reset()
	p.mac.Write(r[:mi])
	p.mac.Sum(r[mi+4 : mi+4 : mi+integrityAttrLen])

	fp := mi + integrityAttrLen
	binary.BigEndian.PutUint16(r[2:], consentResponseBody+fingerprintAttrLen)
	binary.BigEndian.PutUint16(r[fp:], attrFingerprint)
	binary.BigEndian.PutUint16(r[fp+2:], 4)
	binary.BigEndian.PutUint32(r[fp+4:], crc32.ChecksumIEEE(r[:fp])^stunFingerprintXOR)
	return r
}
