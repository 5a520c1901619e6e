package worker

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// testPublisherKeys are AEAD_AES_128_GCM keys a test publisher sends with.
func testPublisherKeys() *srtpKeys {
	return &srtpKeys{
		profile: srtp.ProtectionProfileAeadAes128Gcm,
		key:     []byte("0123456789abcdef"),
		salt:    []byte("saltsaltsalt"),
	}
}

// testSealer encrypts packets as the publisher holding keys does, encrypting
// their header extensions too (RFC 9335) unless cryptex is disabled.
func testSealer(tb testing.TB, keys *srtpKeys, cryptex srtp.CryptexMode) func(seq uint16, ssrc uint32) []byte {
	tb.Helper()
	ctx, err := srtp.CreateContext(keys.key, keys.salt, keys.profile, srtp.Cryptex(cryptex))
	require.NoError(tb, err)
	return func(seq uint16, ssrc uint32) []byte {
		_, pkt := opusPacket(seq)
		pkt.SSRC = ssrc
		raw, err := pkt.Marshal()
		require.NoError(tb, err)
		out, err := ctx.EncryptRTP(nil, raw, nil)
		require.NoError(tb, err)
		return out
	}
}

// nextTaken takes the next packet ing's sockets passed on, as its dispatcher
// would, and returns it parsed.
func nextTaken(t *testing.T, ing *ingress) *rtp.Packet {
	t.Helper()
	select {
	case b := <-ing.ready:
		var p rtp.Packet
		require.NoError(t, p.Unmarshal(bytes.Clone(b)))
		ing.free <- b[:cap(b)]
		return &p
	default:
		t.Fatal("nothing was passed on")
		return nil
	}
}

// TestIngressTakesItsStreamOnly: the sockets' ingress decrypts RTP of the
// registered SSRC from the registered address and passes it on; everything
// else goes to pion untouched; once the stream has authenticated, replays and
// forgeries are dropped, as pion drops them; a dispatcher that falls behind
// loses packets rather than holding up the socket.
func TestIngressTakesItsStreamOnly(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46490)
	keys := testPublisherKeys()
	seal := testSealer(t, keys, srtp.CryptexModeEnabled)
	ing, err := newIngress(pr, 42, keys, srtp.CryptexModeEnabled)
	require.NoError(t, err)
	table := &ingressTable{}
	pub := netip.MustParseAddrPort("127.0.0.1:5000")
	table.set(pub, ing)
	taken := func(pkt []byte, from netip.AddrPort) bool {
		orig := bytes.Clone(pkt)
		ok := table.take(pkt, from)
		require.Equal(t, orig, pkt, "the datagram itself is left as it came")
		return ok
	}

	forged := seal(1, 42)
	forged[len(forged)-1] ^= 1
	require.False(t, taken(forged, pub), "before the stream authenticates, a failure is pion's to judge")

	for seq := uint16(2); seq <= 11; seq++ {
		require.True(t, taken(seal(seq, 42), pub))
		got := nextTaken(t, ing)
		_, want := opusPacket(seq)
		require.Equal(t, seq, got.SequenceNumber)
		require.Equal(t, want.Payload, got.Payload, "decrypted")
		require.Equal(t, []byte{0x9e}, got.GetExtension(1), "the audio level, its encryption (RFC 9335) undone")
	}
	require.EqualValues(t, 10, table.taken.Load())

	require.False(t, taken(seal(12, 43), pub), "another SSRC")
	require.False(t, taken(seal(13, 42), netip.MustParseAddrPort("127.0.0.1:5001")), "another address")
	require.False(t, taken([]byte{0x80, 200, 0, 6, 0, 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, pub), "RTCP")
	require.False(t, taken([]byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, pub), "DTLS")
	require.False(t, taken([]byte{0x80, 111, 0}, pub), "too short")
	require.Empty(t, ing.ready)

	replayed := seal(20, 42)
	require.True(t, taken(replayed, pub))
	nextTaken(t, ing)
	require.True(t, taken(replayed, pub), "a replay is the ingress's to drop")
	forged = seal(21, 42)
	forged[20] ^= 1
	require.True(t, taken(forged, pub))
	require.Empty(t, ing.ready)
	require.EqualValues(t, 11, table.taken.Load())
	require.EqualValues(t, 2, table.rejected.Load())

	// A dispatcher ingressQueue packets behind: the next packet is dropped.
	for seq := uint16(30); seq < 30+ingressQueue; seq++ {
		require.True(t, taken(seal(seq, 42), pub))
	}
	require.True(t, taken(seal(30+ingressQueue, 42), pub))
	require.EqualValues(t, 1, table.dropped.Load())
	for range ingressQueue {
		nextTaken(t, ing)
	}

	// Steady state allocates nothing.
	pkts := make([][]byte, 200)
	for i := range pkts {
		pkts[i] = seal(uint16(100+i), 42)
	}
	next := 0
	allocs := leastAllocsPerRun(100, func() {
		table.take(pkts[next], pub)
		b := <-ing.ready
		ing.free <- b[:cap(b)]
		next++
	})
	require.Zero(t, allocs)

	// The dispatcher fans out what the sockets pass on, until stopped.
	go ing.run()
	in := w.packetsIn.Load()
	for i := range 5 {
		require.True(t, taken(seal(uint16(400+i), 42), pub))
	}
	require.Eventually(t, func() bool { return w.packetsIn.Load() == in+5 }, 5*time.Second, time.Millisecond)
	ing.stop()
	ing.stop()
}

// TestIngressGivesUpOnKeysThatDoNotMatch: when no packet authenticates, the
// stream stays with pion and the ingress leaves the table.
func TestIngressGivesUpOnKeysThatDoNotMatch(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	_, pr := testWorker(t, 46500)
	keys := testPublisherKeys()
	seal := testSealer(t, keys, srtp.CryptexModeDisabled)
	wrong := *keys
	wrong.key = []byte("fedcba9876543210")
	ing, err := newIngress(pr, 42, &wrong, srtp.CryptexModeDisabled)
	require.NoError(t, err)
	table := &ingressTable{}
	pub := netip.MustParseAddrPort("127.0.0.1:5000")
	table.set(pub, ing)
	for seq := uint16(1); seq <= maxIngressFailures; seq++ {
		require.NotNil(t, table.lookup(pub))
		require.False(t, table.take(seal(seq, 42), pub))
	}
	require.Nil(t, table.lookup(pub))
	require.Zero(t, table.taken.Load()+table.rejected.Load())
}

// TestIngressContinuesTheRolloverCounter: a stream opened after its sequence
// numbers wrapped decrypts with the rollover counter the worker counted
// (RFC 3711 §3.3.1); from 0 it would not authenticate.
func TestIngressContinuesTheRolloverCounter(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	_, pr := testWorker(t, 46540)
	keys := testPublisherKeys()
	seal := testSealer(t, keys, srtp.CryptexModeDisabled)
	stats := newReceiveStats()
	var late [][]byte
	for i := range 12 {
		seq := uint16(65530 + i) // wraps after 65535
		stats.packet(42, seq, uint32(seq)*960, time.Now().UnixNano())
		if pkt := seal(seq, 42); seq < 100 {
			late = append(late, pkt)
		}
	}
	require.EqualValues(t, 1, stats.rollovers(42))
	require.Zero(t, stats.rollovers(43), "another stream")

	pub := netip.MustParseAddrPort("127.0.0.1:5000")
	for _, roc := range []uint32{0, 1} {
		ing, err := newIngress(pr, 42, keys, srtp.CryptexModeDisabled)
		require.NoError(t, err)
		ing.ctx.SetROC(42, roc)
		table := &ingressTable{}
		table.set(pub, ing)
		require.Equal(t, roc == 1, table.take(late[0], pub), "rollover counter %d", roc)
	}
}

// TestIngressFollowsCryptex: header extensions encrypted (RFC 9335) only
// authenticate when the worker offered that; where it did, plain packets
// still do too.
func TestIngressFollowsCryptex(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	_, pr := testWorker(t, 46520)
	keys := testPublisherKeys()
	pub := netip.MustParseAddrPort("127.0.0.1:5000")
	for _, c := range []struct {
		name           string
		sent, accepted srtp.CryptexMode
		taken          bool
	}{
		{"plain packets, plain offer", srtp.CryptexModeDisabled, srtp.CryptexModeDisabled, true},
		{"plain packets, cryptex offered", srtp.CryptexModeDisabled, srtp.CryptexModeEnabled, true},
		{"cryptex packets, cryptex offered", srtp.CryptexModeEnabled, srtp.CryptexModeEnabled, true},
		{"cryptex packets, plain offer", srtp.CryptexModeEnabled, srtp.CryptexModeDisabled, false},
	} {
		seal := testSealer(t, keys, c.sent)
		ing, err := newIngress(pr, 42, keys, c.accepted)
		require.NoError(t, err)
		table := &ingressTable{}
		table.set(pub, ing)
		require.Equal(t, c.taken, table.take(seal(1, 42), pub), c.name)
		if c.taken {
			require.Equal(t, []byte{0x9e}, nextTaken(t, ing).GetExtension(1), c.name)
		}
	}

	offer := func(attrs string) *webrtc.SessionDescription {
		return &webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n" + attrs}
	}
	require.Equal(t, srtp.CryptexModeEnabled, receiveCryptexMode(offer("a=cryptex\r\n")))
	require.Equal(t, srtp.CryptexModeDisabled, receiveCryptexMode(offer("")))
	require.Equal(t, srtp.CryptexModeDisabled, receiveCryptexMode(nil))
}

// TestPublisherStreamTakenBySockets: a pion publisher's stream reaches a
// pion listener through the worker; after its first packets opened the track,
// the worker's sockets decrypt and forward it themselves, and they stop when
// the publisher's transport closes.
func TestPublisherStreamTakenBySockets(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46510)
	pub, mic, seq := openPublisher(t, w, nil)
	l := connectListenerTo(t, w, "L", "M", nil)

	table := w.api.sockets.ingress
	before, received := table.taken.Load(), l.received.Load()
	const n = 200
	for range n {
		seq++
		publish(t, mic, seq)
		// Paced, so that a dispatcher held up by a busy machine does not
		// fall ingressQueue packets behind.
		time.Sleep(4 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return l.received.Load()-received >= n }, 5*time.Second, 5*time.Millisecond,
		"the listener hears every packet: %d", l.received.Load()-received)
	require.EqualValues(t, n, table.taken.Load()-before, "all of them taken by the worker's sockets")
	last := l.last.Load()
	_, want := opusPacket(seq)
	require.Equal(t, want.Payload, last.Payload)
	require.Equal(t, []byte{0x9e}, last.GetExtension(1), "the audio level reaches the listener")
	require.Equal(t, srtp.CryptexModeEnabled, receiveCryptexMode(pub.pc.LocalDescription()),
		"pion offers header encryption (RFC 9335), so the publisher's packets carry it")
	require.Zero(t, table.rejected.Load())

	// ICE moving to another pair moves the stream's address with it.
	pub.routeMu.Lock()
	at, ing := pub.ingressAt, pub.ingress
	moved := netip.AddrPortFrom(at.Addr(), at.Port()+1)
	pub.moveIngressLocked(moved)
	pub.routeMu.Unlock()
	require.Nil(t, table.lookup(at))
	require.Same(t, ing, table.lookup(moved))
	pub.routeMu.Lock()
	pub.moveIngressLocked(at)
	pub.routeMu.Unlock()
	require.Same(t, ing, table.lookup(at))

	w.closeTransport(pub)
	require.Nil(t, table.lookup(at), "a closed transport's stream is no longer taken")
}

// openPublisher connects a publisher through transport "PUB" and sends until
// the worker's sockets take its stream; it returns the last sequence number sent.
func openPublisher(t *testing.T, w *Worker, tune func(*webrtc.SettingEngine)) (*transport, *webrtc.TrackLocalStaticRTP, uint16) {
	pub, mic, _ := connectPublisher(t, w, "PUB", "M", tune)
	seq := uint16(0)
	require.Eventually(t, func() bool {
		seq++
		publish(t, mic, seq)
		pub.routeMu.Lock()
		defer pub.routeMu.Unlock()
		return pub.ingress != nil
	}, 10*time.Second, 5*time.Millisecond, "the worker's sockets take the publisher's stream")
	return pub, mic, seq
}

// TestPublisherStaysConnectedWithoutPionHearingItsRTP: pion on the worker
// no longer sees the publisher's RTP, and a publisher that stops checking
// consent and sends no RTCP tells it nothing else; the worker's own consent
// checks keep the transport connected well past the disconnected timeout.
func TestPublisherStaysConnectedWithoutPionHearingItsRTP(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46530)
	w.api.timing = iceTiming{consentInterval: 100 * time.Millisecond, disconnected: time.Second, failed: 5 * time.Second}
	pub, mic, seq := openPublisher(t, w, func(se *webrtc.SettingEngine) {
		se.SetICETimeouts(5*time.Second, 25*time.Second, time.Hour)
	})
	table := w.api.sockets.ingress
	before := table.taken.Load()
	// 3 s and at least 150 packets: on a loaded machine (race detector, the
	// whole suite) the 20 ms sleeps stretch, and 3 s alone sent 74 once.
	sent := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end) || sent < 150; time.Sleep(20 * time.Millisecond) {
		seq++
		sent++
		publish(t, mic, seq)
		require.Equal(t, webrtc.PeerConnectionStateConnected, pub.pc.ConnectionState())
	}
	require.Greater(t, table.taken.Load()-before, uint64(100), "the stream went past pion")
}
