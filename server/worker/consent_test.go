package worker

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

const (
	consentLocalUfrag  = "wrkr"
	consentRemoteUfrag = "peer"
	consentLocalPwd    = "the-workers-ice-password"
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

// recorder keeps what the answerer writes.
type recorder struct {
	pkts [][]byte
	to   []netip.AddrPort
}

func (r *recorder) write(b []byte, to netip.AddrPort) (int, error) {
	r.pkts = append(r.pkts, append([]byte(nil), b...))
	r.to = append(r.to, to)
	return len(b), nil
}

func newTestAnswerer() *consentAnswerer {
	a := newConsentAnswerer()
	a.add(consentRemote, newConsentPeer(consentLocalUfrag, consentRemoteUfrag, consentLocalPwd))
	return a
}

// TestConsentAnswererRepeatsWhatPionAnswered: the first check of a peer goes
// to pion; the next ones, same role and tie-breaker, are answered here with a
// response a STUN implementation accepts: same transaction, the peer's address,
// valid integrity and fingerprint.
func TestConsentAnswererRepeatsWhatPionAnswered(t *testing.T) {
	a := newTestAnswerer()
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

// TestConsentAnswererLeavesPionTheRest: anything but a plain, valid consent
// check of a known peer goes to pion, and nothing is written.
func TestConsentAnswererLeavesPionTheRest(t *testing.T) {
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
			a := newTestAnswerer()
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

// TestConsentAnswererHandsRoleChangesToPion: a check with another role or
// tie-breaker (a possible role conflict, RFC 8445 §7.3.1.1) goes to pion once,
// then that role is the one repeated.
func TestConsentAnswererHandsRoleChangesToPion(t *testing.T) {
	a := newTestAnswerer()
	var rec recorder
	require.False(t, a.answer(validCheck(t), consentRemote, rec.write))
	require.True(t, a.answer(validCheck(t), consentRemote, rec.write))

	controlling := consentCheckAs(t, ice.AttrControlling(9))
	require.False(t, a.answer(controlling(), consentRemote, rec.write), "role changed: pion decides")
	require.True(t, a.answer(controlling(), consentRemote, rec.write))
	require.False(t, a.answer(validCheck(t), consentRemote, rec.write), "changed back")
	require.Len(t, rec.pkts, 2)

	a.remove(consentRemote, a.peer(consentRemote))
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
	a := newTestAnswerer()
	req := validCheck(t)
	drop := func(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }
	require.False(t, a.answer(req, consentRemote, drop))
	allocs := testing.AllocsPerRun(200, func() {
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
