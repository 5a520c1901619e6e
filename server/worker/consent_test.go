package worker

import (
	"math"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

const (
	consentLocalUfrag  = "wrkr"
	consentRemoteUfrag = "peer"
	consentLocalPwd    = "the-workers-ice-password"
	consentRemotePwd   = "the-peers-ice-password"
)

var consentRemote = netip.MustParseAddrPort("127.0.0.1:40000")

// consentCheck is a binding request as a controlled pion or browser peer sends
// it to keep consent fresh, with extra attributes set by with.
func consentCheck(t *testing.T, username, pwd string, with ...stun.Setter) []byte {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(username),
		ice.AttrControlled(7), ice.PriorityAttr(1 << 24)}
	setters = append(setters, with...)
	setters = append(setters, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	m, err := stun.Build(setters...)
	require.NoError(t, err)
	return m.Raw
}

func validCheck(t *testing.T, with ...stun.Setter) []byte {
	return consentCheck(t, consentLocalUfrag+":"+consentRemoteUfrag, consentLocalPwd, with...)
}

// recorder keeps what the keeper writes.
type recorder struct {
	pkts [][]byte
	to   []netip.AddrPort
}

func (r *recorder) write(b []byte, to netip.AddrPort) (int, error) {
	r.pkts = append(r.pkts, append([]byte(nil), b...))
	r.to = append(r.to, to)
	return len(b), nil
}

// testKeeper keeps one peer at consentRemote whose checks go to sent; its own
// timer never fires in a test.
type testKeeper struct {
	*consentKeeper
	p    *consentPeer
	sent recorder
}

func newTestKeeper() *testKeeper {
	k := &testKeeper{consentKeeper: newConsentKeeper(newRounds())}
	k.p = newConsentPeer(consentRemote, consentLocalUfrag, consentRemoteUfrag, consentLocalPwd, consentRemotePwd, k.sent.write)
	k.add(k.p, time.Hour)
	return k
}

// answer reports whether the keeper answered pkt itself (pion does not see it).
func (k *testKeeper) answer(pkt []byte, remote netip.AddrPort, write func([]byte, netip.AddrPort) (int, error)) bool {
	n, deliver := k.handle(pkt, len(pkt), remote, write)
	if deliver {
		if n != len(pkt) {
			panic("a request handed on changed")
		}
		return false
	}
	return true
}

// TestConsentKeeperRepeatsWhatPionAnswered: the first check of a peer goes
// to pion; the next ones, same role and tie-breaker, are answered here with a
// response a STUN implementation accepts: same transaction, the peer's address,
// valid integrity and fingerprint.
func TestConsentKeeperRepeatsWhatPionAnswered(t *testing.T) {
	a := newTestKeeper()
	var rec recorder
	require.False(t, a.answer(validCheck(t), consentRemote, rec.write), "the first check is pion's")
	require.Empty(t, rec.pkts)

	req := validCheck(t)
	require.True(t, a.answer(req, consentRemote, rec.write))
	require.Len(t, rec.pkts, 1)
	require.Equal(t, consentRemote, rec.to[0])
	require.EqualValues(t, 1, a.answered.Load())

	resp := &stun.Message{Raw: rec.pkts[0]}
	require.NoError(t, resp.Decode())
	require.Equal(t, stun.BindingSuccess, resp.Type)
	require.Equal(t, req[8:20], resp.TransactionID[:])
	require.NoError(t, stun.Fingerprint.Check(resp))
	require.NoError(t, stun.NewShortTermIntegrity(consentLocalPwd).Check(resp))
	var mapped stun.XORMappedAddress
	require.NoError(t, mapped.GetFrom(resp))
	require.Equal(t, consentRemote.String(), mapped.String())
}

// TestConsentKeeperLeavesPionTheRest: anything but a plain, valid consent
// check of a known peer goes to pion, and nothing is written.
func TestConsentKeeperLeavesPionTheRest(t *testing.T) {
	unknownRequired := stun.RawAttribute{Type: 0x0030, Value: []byte{1, 2, 3, 4}}
	corruptFingerprint := func(b []byte) []byte { b[len(b)-1] ^= 1; return b }
	cases := map[string]struct {
		pkt    func(t *testing.T) []byte
		remote netip.AddrPort
	}{
		"unknown address": {pkt: func(t *testing.T) []byte { return validCheck(t) }, remote: netip.MustParseAddrPort("127.0.0.1:40001")},
		"ipv6 address":    {pkt: func(t *testing.T) []byte { return validCheck(t) }, remote: netip.MustParseAddrPort("[::1]:40000")},
		"wrong username":  {pkt: func(t *testing.T) []byte { return consentCheck(t, "wrkr:other", consentLocalPwd) }},
		"wrong password":  {pkt: func(t *testing.T) []byte { return consentCheck(t, "wrkr:peer", "not-the-password") }},
		"bad fingerprint": {pkt: func(t *testing.T) []byte { return corruptFingerprint(validCheck(t)) }},
		"use-candidate":   {pkt: func(t *testing.T) []byte { return validCheck(t, ice.UseCandidate()) }},
		"renomination": {pkt: func(t *testing.T) []byte {
			return validCheck(t, stun.RawAttribute{Type: attrNomination, Value: []byte{0, 0, 0, 2}})
		}},
		"unknown required": {pkt: func(t *testing.T) []byte { return validCheck(t, unknownRequired) }},
		"truncated":        {pkt: func(t *testing.T) []byte { b := validCheck(t); return b[:len(b)-4] }},
		"not a request": {pkt: func(t *testing.T) []byte {
			m := stun.MustBuild(stun.TransactionID, stun.BindingSuccess, stun.NewShortTermIntegrity(consentLocalPwd), stun.Fingerprint)
			return m.Raw
		}},
		"no role": {pkt: func(t *testing.T) []byte {
			m := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername("wrkr:peer"),
				stun.NewShortTermIntegrity(consentLocalPwd), stun.Fingerprint)
			return m.Raw
		}},
		"not stun": {pkt: func(*testing.T) []byte { return make([]byte, 64) }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a := newTestKeeper()
			var rec recorder
			require.False(t, a.answer(validCheck(t), consentRemote, rec.write)) // pion's first
			remote := consentRemote
			if c.remote.IsValid() {
				remote = c.remote
			}
			require.False(t, a.answer(c.pkt(t), remote, rec.write))
			require.Empty(t, rec.pkts)
			require.True(t, a.answer(validCheck(t), consentRemote, rec.write), "a plain check is still answered after")
		})
	}
}

// TestConsentKeeperHandsRoleChangesToPion: a check with another role or
// tie-breaker (a possible role conflict, RFC 8445 §7.3.1.1) goes to pion once,
// then that role is the one repeated.
func TestConsentKeeperHandsRoleChangesToPion(t *testing.T) {
	a := newTestKeeper()
	var rec recorder
	require.False(t, a.answer(validCheck(t), consentRemote, rec.write))
	require.True(t, a.answer(validCheck(t), consentRemote, rec.write))

	controlling := consentCheckAs(t, ice.AttrControlling(9))
	require.False(t, a.answer(controlling(), consentRemote, rec.write), "role changed: pion decides")
	require.True(t, a.answer(controlling(), consentRemote, rec.write))
	require.False(t, a.answer(validCheck(t), consentRemote, rec.write), "changed back")
	require.Len(t, rec.pkts, 2)

	a.remove(a.p)
	require.False(t, a.answer(validCheck(t), consentRemote, rec.write), "removed: pion answers")
}

func consentCheckAs(t *testing.T, role stun.Setter) func() []byte {
	return func() []byte {
		m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("wrkr:peer"), role,
			ice.PriorityAttr(1), stun.NewShortTermIntegrity(consentLocalPwd), stun.Fingerprint)
		require.NoError(t, err)
		return m.Raw
	}
}

// TestConsentAnsweringAllocatesNothing: answering sits in the socket's read
// loop, once per peer every few seconds.
func TestConsentAnsweringAllocatesNothing(t *testing.T) {
	a := newTestKeeper()
	req := validCheck(t)
	drop := func(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }
	require.False(t, a.answer(req, consentRemote, drop))
	allocs := leastAllocsPerRun(200, func() {
		if !a.answer(req, consentRemote, drop) {
			t.Fatal("not answered")
		}
	})
	require.Zero(t, allocs)
}

// TestConsentChecksOfAConnectedPeerAreAnsweredByTheSockets: a real pion peer
// checking every 100 ms gets its answers from the worker's sockets once
// connected, accepts them (its count of responses keeps up with its
// requests), stays connected, and the worker stops answering when the
// transport closes.
func TestConsentChecksOfAConnectedPeerAreAnsweredByTheSockets(t *testing.T) {
	w, _ := testWorker(t, 46420)
	l := connectListener(t, w, "T0", func(se *webrtc.SettingEngine) {
		se.SetICETimeouts(5*time.Second, 25*time.Second, 100*time.Millisecond)
	})
	answerer := w.api.sockets.consent
	require.Eventually(t, func() bool { return answerer.answered.Load() >= 10 }, 10*time.Second, 20*time.Millisecond,
		"the sockets answer the peer's checks")
	answered := answerer.answered.Load()
	require.Eventually(t, func() bool {
		stats, ok := l.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePairStats()
		return ok && stats.ResponsesReceived >= answered
	}, 5*time.Second, 20*time.Millisecond, "the peer accepts the answers")
	require.Equal(t, webrtc.PeerConnectionStateConnected, l.pc.ConnectionState())
	require.Equal(t, webrtc.PeerConnectionStateConnected, l.t.pc.ConnectionState())

	w.closeTransport(l.t)
	answerer.mu.RLock()
	defer answerer.mu.RUnlock()
	require.Empty(t, answerer.peers, "a closed transport's peer is no longer answered")
}

// TestConsentCheckIsASignedBindingRequest: the worker's check carries the
// peer's USERNAME order, a role opposite to the peer's (pion's role before the
// peer has shown one), a PRIORITY, and verifies with the peer's password.
func TestConsentCheckIsASignedBindingRequest(t *testing.T) {
	k := newTestKeeper()
	k.p.check()
	require.Empty(t, k.sent.pkts, "no role known yet: no check")

	k.p.ourRole = attrICEControlling
	k.p.check()
	require.Len(t, k.sent.pkts, 1)
	require.Equal(t, consentRemote, k.sent.to[0])
	m := &stun.Message{Raw: k.sent.pkts[0]}
	require.NoError(t, m.Decode())
	require.Equal(t, stun.BindingRequest, m.Type)
	var user stun.Username
	require.NoError(t, user.GetFrom(m))
	require.Equal(t, consentRemoteUfrag+":"+consentLocalUfrag, user.String())
	require.True(t, m.Contains(stun.AttrICEControlling))
	var prio ice.PriorityAttr
	require.NoError(t, prio.GetFrom(m))
	require.EqualValues(t, consentPriority, prio)
	require.NoError(t, stun.NewShortTermIntegrity(consentRemotePwd).Check(m))
	require.NoError(t, stun.Fingerprint.Check(m))

	// The peer turns out to control: the next check says controlled.
	require.False(t, k.answer(consentCheckAs(t, ice.AttrControlling(3))(), consentRemote, k.sent.write))
	k.p.check()
	require.Len(t, k.sent.pkts, 2)
	m = &stun.Message{Raw: k.sent.pkts[1]}
	require.NoError(t, m.Decode())
	require.True(t, m.Contains(stun.AttrICEControlled))
	require.False(t, m.Contains(stun.AttrICEControlling))
	require.NotEqual(t, k.sent.pkts[0][8:20], k.sent.pkts[1][8:20], "a fresh transaction each time")
	require.NoError(t, stun.NewShortTermIntegrity(consentRemotePwd).Check(m))
}

// answerTo is the peer's success response to check, signed with pwd.
func answerTo(t *testing.T, check []byte, pwd string) []byte {
	t.Helper()
	var id [stun.TransactionIDSize]byte
	copy(id[:], check[8:20])
	m, err := stun.Build(stun.NewTransactionIDSetter(id), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: []byte{127, 0, 0, 1}, Port: 46000},
		stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	require.NoError(t, err)
	return m.Raw
}

// TestConsentAnswerReachesPionAsAnIndication: a valid answer to the check in
// flight confirms consent and is handed on as a binding indication from the
// peer; a repeat or a forged answer is dropped; an answer to a transaction
// that is not ours (pion's) passes unchanged.
func TestConsentAnswerReachesPionAsAnIndication(t *testing.T) {
	k := newTestKeeper()
	k.p.ourRole = attrICEControlling
	k.p.check()
	resp := answerTo(t, k.sent.pkts[0], consentRemotePwd)

	buf := make([]byte, 1500)
	n, deliver := k.handle(buf, copy(buf, resp), consentRemote, k.sent.write)
	require.True(t, deliver)
	require.Equal(t, indicationLen, n)
	ind := &stun.Message{Raw: buf[:n]}
	require.NoError(t, ind.Decode())
	require.Equal(t, stun.MessageType{Method: stun.MethodBinding, Class: stun.ClassIndication}, ind.Type)
	require.NoError(t, stun.Fingerprint.Check(ind))
	require.EqualValues(t, 1, k.confirmed.Load())

	_, deliver = k.handle(buf, copy(buf, resp), consentRemote, k.sent.write)
	require.False(t, deliver, "a repeated answer is dropped")

	k.p.check()
	forged := answerTo(t, k.sent.pkts[1], "not-the-peers-password")
	_, deliver = k.handle(buf, copy(buf, forged), consentRemote, k.sent.write)
	require.False(t, deliver, "a forged answer is dropped")
	require.EqualValues(t, 1, k.confirmed.Load())

	pions := stun.MustBuild(stun.TransactionID, stun.BindingSuccess, stun.NewShortTermIntegrity(consentRemotePwd), stun.Fingerprint).Raw
	n, deliver = k.handle(buf, copy(buf, pions), consentRemote, k.sent.write)
	require.True(t, deliver)
	require.Equal(t, pions, buf[:n], "pion's own transactions pass untouched")
}

// TestConsentChecksAllocateNothing: a check sent and its answer taken.
func TestConsentChecksAllocateNothing(t *testing.T) {
	k := newTestKeeper()
	k.p.ourRole = attrICEControlling
	k.p.send = func(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }
	// The peer's answer, re-signed for each check by the same code.
	resp := append([]byte(nil), answerTo(t, validCheck(t), consentRemotePwd)...)
	peerMAC := newConsentPeer(consentRemote, "", "", consentRemotePwd, "", nil).mac
	buf := make([]byte, 1500)
	allocs := leastAllocsPerRun(200, func() {
		k.p.check()
		copy(resp[8:20], k.p.req[8:20])
		sign(peerMAC, resp, len(resp)-integrityAttrLen-fingerprintAttrLen)
		if n, deliver := k.handle(buf, copy(buf, resp), consentRemote, nil); !deliver || n != indicationLen {
			t.Fatal("answer not taken")
		}
	})
	require.Zero(t, allocs)
	require.EqualValues(t, 201, k.confirmed.Load())
}

// TestWorkersChecksKeepPionConnected: with a peer that stops checking once
// connected and sends no RTCP, the worker's own checks are all that tells its
// pion agent the peer is there; the transport stays connected well past the
// disconnected timeout, then the keeper lets go when the transport closes.
func TestWorkersChecksKeepPionConnected(t *testing.T) {
	w, _ := testWorker(t, 46440)
	w.api.timing = iceTiming{consentInterval: 100 * time.Millisecond, disconnected: time.Second, failed: 5 * time.Second}
	l := connectListener(t, w, "T0", func(se *webrtc.SettingEngine) {
		se.SetICETimeouts(5*time.Second, 25*time.Second, time.Hour)
	}, webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	keeper := w.api.sockets.consent
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		require.Equal(t, webrtc.PeerConnectionStateConnected, l.t.pc.ConnectionState(),
			"pion on the worker still hears from the peer (%d checks answered)", keeper.confirmed.Load())
	}
	require.GreaterOrEqual(t, keeper.confirmed.Load(), uint64(10))
	require.Less(t, keeper.answered.Load(), uint64(3), "the peer's checks stopped with the connection's")

	w.closeTransport(l.t)
	keeper.mu.RLock()
	defer keeper.mu.RUnlock()
	require.Empty(t, keeper.peers)
}

// TestConsentAnswerSkipsPionWhenThePeerSpokeLately: pion counts a peer's RTP
// or RTCP as a sign of life itself, so after recent media an answer to our
// check is taken without an indication; after half an interval of silence it
// is handed on again.
func TestConsentAnswerSkipsPionWhenThePeerSpokeLately(t *testing.T) {
	k := newTestKeeper()
	k.p.ourRole = attrICEControlling
	buf := make([]byte, 1500)
	rtpFromPeer := []byte{0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42}
	n, deliver := k.handle(buf, copy(buf, rtpFromPeer), consentRemote, k.sent.write)
	require.True(t, deliver, "media goes to pion")
	require.Equal(t, rtpFromPeer, buf[:n])

	k.p.check()
	_, deliver = k.handle(buf, copy(buf, answerTo(t, k.sent.pkts[0], consentRemotePwd)), consentRemote, k.sent.write)
	require.False(t, deliver, "pion heard the peer a moment ago")
	require.EqualValues(t, 1, k.confirmed.Load())

	k.p.heardAt.Store(time.Now().Add(-time.Hour / 2).UnixNano())
	k.p.check()
	n, deliver = k.handle(buf, copy(buf, answerTo(t, k.sent.pkts[1], consentRemotePwd)), consentRemote, k.sent.write)
	require.True(t, deliver)
	require.Equal(t, indicationLen, n, "half an interval of silence: pion needs the sign")
	require.EqualValues(t, 2, k.confirmed.Load())
}

// TestAConsentPeersFirstCheckAllocatesNothing: the HMACs are keyed when the
// peer is made, so its first check, seconds after the transport connected,
// allocates nothing either (testing.AllocsPerRun would leave it out).
func TestAConsentPeersFirstCheckAllocatesNothing(t *testing.T) {
	least := uint64(math.MaxUint64)
	for range 10 {
		k := newTestKeeper()
		k.p.ourRole = attrICEControlling
		k.p.send = func(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }
		least = min(least, mallocs(k.p.check))
		require.EqualValues(t, 1, k.p.sent)
	}
	require.Zero(t, least)
}

// mallocs counts the heap allocations of one call of f, its first included
// (testing.AllocsPerRun leaves the first out as a warm-up). Other goroutines
// may add to it; callers take the least of a few tries.
func mallocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}
