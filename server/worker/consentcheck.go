package worker

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"hash/crc32"
	mrand "math/rand/v2"
	"time"
)

// consentPriority is the PRIORITY of the worker's checks: a peer-reflexive
// candidate's, type preference 110, for component 1 (RFC 8445 §5.1.2.1, §7.1.1).
const consentPriority = 110<<24 | 65535<<8 | 255

// buildConsentCheck lays out the worker's consent check (RFC 7675 §5.1, a
// binding request as in RFC 8445 §7.1.1): USERNAME, a role attribute,
// PRIORITY, MESSAGE-INTEGRITY, FINGERPRINT. Each check sets a fresh
// transaction ID, the role, and signs it.
func buildConsentCheck(username string) []byte {
	padded := (len(username) + 3) &^ 3
	b := make([]byte, stunHeaderLen+4+padded+12+8+integrityAttrLen+fingerprintAttrLen)
	binary.BigEndian.PutUint16(b[0:], stunBindingRequest)
	binary.BigEndian.PutUint32(b[4:], stunMagicCookie)
	off := stunHeaderLen
	binary.BigEndian.PutUint16(b[off:], attrUsername)
	binary.BigEndian.PutUint16(b[off+2:], uint16(len(username)))
	copy(b[off+4:], username)
	off += 4 + padded
	binary.BigEndian.PutUint16(b[off:], attrICEControlling)
	binary.BigEndian.PutUint16(b[off+2:], 8)
	_, _ = rand.Read(b[off+4 : off+12]) // tie-breaker
	off += 12
	binary.BigEndian.PutUint16(b[off:], attrPriority)
	binary.BigEndian.PutUint16(b[off+2:], 4)
	binary.BigEndian.PutUint32(b[off+4:], consentPriority)
	return b
}

// roleOffset is where buildConsentCheck put the role attribute.
func (p *consentPeer) roleOffset() int {
	return len(p.req) - integrityAttrLen - fingerprintAttrLen - 8 - 12
}

// check sends the next consent check, taking the role opposite to the one the
// peer's own checks show (so that there is no conflict to resolve) or, before
// the peer has checked, pion's, and arms the one after.
func (p *consentPeer) check() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.timer.Reset(jitter(p.interval))
	role := p.ourRole
	switch {
	case p.learned && p.role == attrICEControlling:
		role = attrICEControlled
	case p.learned:
		role = attrICEControlling
	case role == 0:
		return
	}
	binary.BigEndian.PutUint16(p.req[p.roleOffset():], role)
	_, _ = rand.Read(p.req[8:stunHeaderLen])
	sign(p.peerMAC, p.req, len(p.req)-integrityAttrLen-fingerprintAttrLen)
	p.pending = true
	p.sent++
	// A check that cannot leave is one that gets no answer: consent runs out.
	_, _ = p.send(p.req, p.remote)
}

// jitter spreads checks over 0.8–1.2 × interval (RFC 7675 §5.1), so that
// peers that joined together do not check together.
func jitter(interval time.Duration) time.Duration {
	return interval*4/5 + mrand.N(interval*2/5+1)
}

// confirm takes the answer to the check in flight: pion never sees it (the
// transaction is not its own). A valid one is handed on as a binding
// indication from the peer, rewritten in b, which pion's agent counts as a
// sign of life — unless the peer's other traffic just gave pion one.
// Answers to pion's own checks (while it still makes them) pass.
func (k *consentKeeper) confirm(p *consentPeer, b []byte, n int) (int, bool) {
	pkt := b[:n]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent == 0 || !bytes.Equal(pkt[8:stunHeaderLen], p.req[8:stunHeaderLen]) {
		return n, true
	}
	if !p.pending || !p.answerOK(pkt) {
		return 0, false // a duplicate or a forgery
	}
	p.pending = false
	k.confirmed.Add(1)
	if time.Since(time.Unix(0, p.heardAt.Load())) < p.interval/2 {
		// pion saw the peer's media or RTCP lately; by the next answer, at
		// most 1.7 intervals on, it will not have waited its disconnected
		// timeout (two intervals).
		return 0, false
	}
	binary.BigEndian.PutUint16(b[0:], stunBindingIndicate)
	binary.BigEndian.PutUint16(b[2:], fingerprintAttrLen)
	binary.BigEndian.PutUint16(b[stunHeaderLen:], attrFingerprint)
	binary.BigEndian.PutUint16(b[stunHeaderLen+2:], 4)
	binary.BigEndian.PutUint32(b[stunHeaderLen+4:], crc32.ChecksumIEEE(b[:stunHeaderLen])^stunFingerprintXOR)
	return indicationLen, true
}

// answerOK checks a success response to our check: signed with the peer's
// password, fingerprint right if present, no attribute it must understand and
// we do not (RFC 8489 §6.3.3, §14.5, §14.7).
func (p *consentPeer) answerOK(pkt []byte) bool {
	integrity := -1
	attrs := stunAttrs{pkt: pkt, off: stunHeaderLen}
	for {
		a, ok := attrs.next()
		if !ok {
			break
		}
		switch {
		case integrity >= 0 && a.typ != attrFingerprint:
			// Ignored after the integrity (RFC 8489 §14.5).
		case a.typ == attrIntegrity:
			if a.len != len(p.sum) {
				return false
			}
			integrity = a.off
		case a.typ == attrFingerprint:
			if !fingerprintOK(pkt, a.off, integrity) {
				return false
			}
		case a.typ < 0x8000 && a.typ != attrXORMapped:
			return false
		}
	}
	return attrs.complete() && integrity >= 0 && integrityOK(p.peerMAC, pkt, integrity, &p.length, &p.sum)
}
