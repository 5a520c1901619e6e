package worker

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // STUN's MESSAGE-INTEGRITY is HMAC-SHA1 (RFC 8489 §14.5)
	"encoding/binary"
	"hash"
	"hash/crc32"
	"net/netip"
)

// answer replies to a peer's consent check if pion already answered that peer
// in that role; false leaves the request to pion.
func (k *consentKeeper) answer(p *consentPeer, pkt []byte, write func([]byte, netip.AddrPort) (int, error)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp, ok := p.respond(pkt)
	if !ok {
		return false
	}
	// A lost response is a lost datagram: the peer checks again.
	_, _ = write(resp, p.remote)
	k.answered.Add(1)
	return true
}

// respond validates a binding request the way pion's agent would for a pair
// it has selected and returns the success response, or false.
func (p *consentPeer) respond(pkt []byte) ([]byte, bool) {
	var (
		username   []byte
		integrity  = -1 // offset of MESSAGE-INTEGRITY
		role       uint16
		tieBreaker uint64
	)
	attrs := stunAttrs{pkt: pkt, off: stunHeaderLen}
	for {
		a, ok := attrs.next()
		if !ok {
			break
		}
		typ, off, val, n := a.typ, a.off, a.off+4, a.len
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
			if !fingerprintOK(pkt, off, integrity) {
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
	}
	if !attrs.complete() || integrity < 0 || role == 0 || !bytes.Equal(username, p.username) {
		return nil, false
	}
	if !integrityOK(p.mac, pkt, integrity, &p.length, &p.sum) {
		return nil, false
	}
	// The first request, and any that shows another role or tie-breaker (a
	// role conflict, RFC 8445 §7.3.1.1), is pion's; what it answered we repeat.
	if !p.learned || role != p.role || tieBreaker != p.tieBreaker {
		p.learned, p.role, p.tieBreaker = true, role, tieBreaker
		return nil, false
	}
	return p.successResponse(pkt[8:stunHeaderLen]), true
}

// stunAttrs walks a STUN message's attributes (RFC 8489 §14): type, length,
// value padded to 4 bytes.
type stunAttrs struct {
	pkt []byte
	off int
	bad bool
}

// stunAttr is one attribute: its type, its offset in the message, its value's length.
type stunAttr struct {
	typ      uint16
	off, len int
}

// next returns the next attribute, or false at the end or at one that
// overruns the message.
func (a *stunAttrs) next() (stunAttr, bool) {
	if a.bad || a.off+4 > len(a.pkt) {
		return stunAttr{}, false
	}
	at := stunAttr{typ: binary.BigEndian.Uint16(a.pkt[a.off:]), off: a.off, len: int(binary.BigEndian.Uint16(a.pkt[a.off+2:]))}
	if a.off+4+at.len > len(a.pkt) {
		a.bad = true
		return stunAttr{}, false
	}
	a.off += 4 + (at.len+3)&^3
	return at, true
}

// complete reports whether the walk ended exactly at the message's end.
func (a *stunAttrs) complete() bool { return !a.bad && a.off == len(a.pkt) }

// fingerprintOK checks the FINGERPRINT at off: last, after the integrity, and
// the CRC of everything before it (RFC 8489 §14.7).
func fingerprintOK(pkt []byte, off, integrity int) bool {
	val := off + 4
	return binary.BigEndian.Uint16(pkt[off+2:]) == 4 && val+4 == len(pkt) && integrity >= 0 &&
		crc32.ChecksumIEEE(pkt[:off])^stunFingerprintXOR == binary.BigEndian.Uint32(pkt[val:])
}

// integrityOK verifies the HMAC-SHA1 at offset mi, computed over the message
// up to it with the header's length covering it (RFC 8489 §14.5). length and
// sum are scratch space that outlives the call, so nothing is allocated.
func integrityOK(mac hash.Hash, pkt []byte, mi int, length *[2]byte, sum *[sha1.Size]byte) bool {
	binary.BigEndian.PutUint16(length[:], uint16(mi+integrityAttrLen-stunHeaderLen))
	mac.Reset()
	mac.Write(pkt[:2])
	mac.Write(length[:])
	mac.Write(pkt[4:mi])
	return hmac.Equal(mac.Sum(sum[:0]), pkt[mi+4:mi+integrityAttrLen])
}

// successResponse builds the binding success response to transaction id:
// XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT, as pion sends it.
func (p *consentPeer) successResponse(id []byte) []byte {
	r := p.resp[:]
	binary.BigEndian.PutUint16(r[0:], stunBindingSuccess)
	binary.BigEndian.PutUint16(r[2:], consentResponseBody)
	binary.BigEndian.PutUint32(r[4:], stunMagicCookie)
	copy(r[8:stunHeaderLen], id)

	x := r[stunHeaderLen:]
	binary.BigEndian.PutUint16(x[0:], attrXORMapped)
	binary.BigEndian.PutUint16(x[2:], 8)
	x[4], x[5] = 0, 0x01 // IPv4
	binary.BigEndian.PutUint16(x[6:], p.remote.Port()^(stunMagicCookie>>16))
	ip := p.remote.Addr().As4()
	binary.BigEndian.PutUint32(x[8:], binary.BigEndian.Uint32(ip[:])^stunMagicCookie)

	sign(p.mac, r, stunHeaderLen+xorMappedAttrLen)
	return r
}

// sign fills in the MESSAGE-INTEGRITY at offset mi and the FINGERPRINT after
// it, the last two attributes of msg, fixing the header's length for each.
func sign(mac hash.Hash, msg []byte, mi int) {
	binary.BigEndian.PutUint16(msg[2:], uint16(mi+integrityAttrLen-stunHeaderLen))
	binary.BigEndian.PutUint16(msg[mi:], attrIntegrity)
	binary.BigEndian.PutUint16(msg[mi+2:], sha1.Size)
	mac.Reset()
	mac.Write(msg[:mi])
	mac.Sum(msg[mi+4 : mi+4 : mi+integrityAttrLen])

	fp := mi + integrityAttrLen
	binary.BigEndian.PutUint16(msg[2:], uint16(fp+fingerprintAttrLen-stunHeaderLen))
	binary.BigEndian.PutUint16(msg[fp:], attrFingerprint)
	binary.BigEndian.PutUint16(msg[fp+2:], 4)
	binary.BigEndian.PutUint32(msg[fp+4:], crc32.ChecksumIEEE(msg[:fp])^stunFingerprintXOR)
}
