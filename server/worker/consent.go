package worker

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // STUN's MESSAGE-INTEGRITY is HMAC-SHA1 (RFC 8489 §14.5)
	"encoding/binary"
	"hash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// consentKeeper keeps the ICE consent (RFC 7675) of connected peers fresh in
// both directions, in the sockets' read loop, instead of pion's agent: it
// answers the checks a peer sends every 2–5 s (consentanswer.go) and sends the
// worker's own every 5 s, verifying the answers (consentcheck.go).
//
// Why: through pion every check crossed three goroutines (the mux reader, the
// candidate's read loop, the agent's task loop) and allocated forty to fifty
// objects each way; with hundreds of listeners per worker that was nearly all
// of the worker's allocations and, with its scheduling, a tenth of its CPU.
//
// Only a transport's selected candidate pair is kept here, and only plain
// checks: a request that nominates (USE-CANDIDATE, renomination), changes the
// peer's ICE role or tie-breaker, fails a check, or carries an attribute this
// code does not know goes to pion, which decides. Pion's agent sends no
// keepalives of its own (see iceTiming); a verified answer to ours reaches it
// as a binding indication from the peer, which is how it still learns that the
// peer is there (unless the peer's media or RTCP told it lately), and stops
// when the peer stops.
type consentKeeper struct {
	mu    sync.RWMutex
	peers map[netip.AddrPort]*consentPeer
	// rounds runs the peers' checks (see rounds.go).
	rounds *rounds
	// answered counts peers' checks answered here, confirmed the answers to
	// ours (the worker's stats and tests).
	answered, confirmed atomic.Uint64
}

// consentPeer is one transport's peer on its selected pair: the USERNAMEs of
// both directions (RFC 8445 §7.2.2), HMACs keyed with our ICE password (their
// requests, our answers) and theirs (our requests, their answers), the role and
// tie-breaker the peer showed pion, and the check in flight. Buffers are reused
// under mu.
type consentPeer struct {
	remote   netip.AddrPort
	username []byte // in the peer's requests: "ours:theirs"
	send     func([]byte, netip.AddrPort) (int, error)
	interval time.Duration // between our checks, set by add
	// heardAt is when the peer last sent anything but STUN (unix ns): pion
	// counts that as a sign of life itself.
	heardAt atomic.Int64

	mu         sync.Mutex
	stopped    bool
	timer      *roundJob
	mac        hash.Hash // our password
	peerMAC    hash.Hash // the peer's password
	learned    bool      // role and tieBreaker are the peer's, seen by pion
	role       uint16    // ICE-CONTROLLING or ICE-CONTROLLED
	tieBreaker uint64
	ourRole    uint16 // in our checks until the peer's show its role
	length     [2]byte
	sum        [sha1.Size]byte
	resp       [consentResponseLen]byte
	req        []byte // our check, built once; ID, role and integrity change
	pending    bool   // req is out, unanswered
	sent       uint64 // checks sent
}

// STUN (RFC 8489) and ICE (RFC 8445 §16.1) wire constants.
const (
	stunHeaderLen       = 20
	stunMagicCookie     = 0x2112A442
	stunBindingRequest  = 0x0001
	stunBindingIndicate = 0x0011
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
	indicationLen       = stunHeaderLen + fingerprintAttrLen
)

func newConsentKeeper(r *rounds) *consentKeeper {
	return &consentKeeper{peers: map[netip.AddrPort]*consentPeer{}, rounds: r}
}

// newConsentPeer is the peer at remote with the ICE credentials of both sides,
// reached through send.
func newConsentPeer(remote netip.AddrPort, localUfrag, remoteUfrag, localPwd, remotePwd string,
	send func([]byte, netip.AddrPort) (int, error)) *consentPeer {
	p := &consentPeer{
		remote:   remote,
		username: []byte(localUfrag + ":" + remoteUfrag),
		send:     send,
		mac:      hmac.New(sha1.New, []byte(localPwd)),
		peerMAC:  hmac.New(sha1.New, []byte(remotePwd)),
		req:      buildConsentCheck(remoteUfrag + ":" + localUfrag),
	}
	// An HMAC saves its keyed state on its first Reset, allocating: do it now,
	// not in the first check seconds later, so a connected peer costs no
	// allocation from here on.
	p.mac.Reset()
	p.peerMAC.Reset()
	return p
}

// add keeps p's consent from now on, checking every interval (randomised).
func (k *consentKeeper) add(p *consentPeer, interval time.Duration) {
	k.mu.Lock()
	if old := k.peers[p.remote]; old != nil {
		old.stop()
	}
	k.peers[p.remote] = p
	k.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.interval = interval
	p.timer = k.rounds.afterFunc(jitter(interval), p.check)
}

// remove stops keeping p.
func (k *consentKeeper) remove(p *consentPeer) {
	k.mu.Lock()
	if k.peers[p.remote] == p {
		delete(k.peers, p.remote)
	}
	k.mu.Unlock()
	p.stop()
}

func (p *consentPeer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

func (k *consentKeeper) peer(remote netip.AddrPort) *consentPeer {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.peers[remote]
}

// handle looks at the datagram b[:n] from remote before pion does. It answers
// a consent check (reply goes out through write) and takes the answer to one
// of ours; deliver is false for what pion must not see, n the length of what
// it should see instead.
func (k *consentKeeper) handle(b []byte, n int, remote netip.AddrPort, write func([]byte, netip.AddrPort) (int, error)) (int, bool) {
	pkt := b[:n]
	if n > 0 && pkt[0] >= 20 { // DTLS, RTP or RTCP (RFC 7983)
		if p := k.peer(remote); p != nil {
			p.heardAt.Store(time.Now().UnixNano())
		}
		return n, true
	}
	if !isSTUN(pkt) || !remote.Addr().Is4() {
		return n, true
	}
	p := k.peer(remote)
	if p == nil {
		return n, true
	}
	switch binary.BigEndian.Uint16(pkt[0:2]) {
	case stunBindingRequest:
		if k.answer(p, pkt, write) {
			return 0, false
		}
	case stunBindingSuccess:
		return k.confirm(p, b, n)
	}
	return n, true
}

// isSTUN checks the fixed header (RFC 8489 §5) of a message that can end
// with a fingerprint.
func isSTUN(pkt []byte) bool {
	return len(pkt) >= stunHeaderLen+fingerprintAttrLen && len(pkt)%4 == 0 &&
		int(binary.BigEndian.Uint16(pkt[2:4])) == len(pkt)-stunHeaderLen &&
		binary.BigEndian.Uint32(pkt[4:8]) == stunMagicCookie
}
