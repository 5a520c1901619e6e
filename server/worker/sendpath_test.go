package worker

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// TestOwnWritePathIsHeard checks that a listener decrypts what the worker
// encrypts with the keys it caught from the DTLS handshake, for each SRTP
// profile and each PRF hash a client can negotiate, and that sender reports
// describe what was sent.
func TestOwnWritePathIsHeard(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	cases := map[string]func(*webrtc.SettingEngine){
		"default": nil,
		"aes128-gcm": func(se *webrtc.SettingEngine) {
			se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)
		},
		"aes256-gcm": func(se *webrtc.SettingEngine) {
			se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_256_GCM)
		},
		"aes128-cm-sha1-80": func(se *webrtc.SettingEngine) {
			se.SetSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80)
		},
		"sha384-suite": func(se *webrtc.SettingEngine) {
			se.SetDTLSCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
		},
	}
	port := 46300
	for name, tune := range cases {
		port++
		t.Run(name, func(t *testing.T) {
			w, pr := testWorker(t, port)
			ls := connectListeners(t, w, 3, tune)
			for _, l := range ls {
				require.True(t, l.t.route.Load().fast(), "the worker writes SRTP itself")
			}
			for seq := uint16(1); seq <= 50; seq++ {
				raw, pkt := opusPacket(seq)
				pr.dispatch(raw, pkt)
				time.Sleep(2 * time.Millisecond)
			}
			counts := func() []int64 {
				var out []int64
				for _, l := range ls {
					out = append(out, l.received.Load())
				}
				return out
			}
			if !assert.Eventually(t, func() bool { return slices.Min(counts()) >= 50 }, 5*time.Second, 10*time.Millisecond) {
				t.Fatalf("every listener decrypts every packet: they decrypted %v of 50", counts())
			}
			for _, l := range ls {
				last := l.last.Load()
				_, want := opusPacket(50)
				require.Equal(t, want.Payload, last.Payload)
				require.Equal(t, uint16(50), last.SequenceNumber)
				require.Equal(t, l.c.ssrc, last.SSRC, "the consumer's SSRC, not the producer's")
				require.Equal(t, uint8(opusPayloadType), last.PayloadType)
				require.Equal(t, []byte{0x9e}, last.GetExtension(1), "the audio level passes through")
				pkts, err := rtcp.Unmarshal(l.c.appendSenderReport(nil, time.Now()))
				require.NoError(t, err)
				require.Len(t, pkts, 1)
				sr, ok := pkts[0].(*rtcp.SenderReport)
				require.True(t, ok)
				require.Equal(t, l.c.ssrc, sr.SSRC)
				require.Equal(t, uint32(50), sr.PacketCount)
				require.Equal(t, uint32(50*80), sr.OctetCount)
			}
			// Sender reports go out encrypted with the same keys, and the
			// client's SRTCP takes them.
			for _, l := range ls {
				l.t.sendReports()
			}
			for _, l := range ls {
				require.Eventually(t, func() bool { return l.lastSR.Load() != nil }, 5*time.Second, 10*time.Millisecond, "no sender report")
				sr := l.lastSR.Load()
				require.Equal(t, l.c.ssrc, sr.SSRC)
				require.Equal(t, uint32(50), sr.PacketCount)
				require.Equal(t, uint32(50*80), sr.OctetCount)
			}
			require.Equal(t, uint64(150), w.packetsOut.Load())
		})
	}
}

// TestPionWritePathWhenWorkerIsDTLSClient: when the client answers passive, the
// worker is the DTLS client, cannot learn the keys, and falls back to pion's writer.
func TestPionWritePathWhenWorkerIsDTLSClient(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46320)
	l := connectListener(t, w, "T", func(se *webrtc.SettingEngine) {
		require.NoError(t, se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer))
	})
	require.False(t, l.t.route.Load().fast())
	seq := uint16(0)
	require.Eventually(t, func() bool {
		seq++
		raw, pkt := opusPacket(seq)
		pr.dispatch(raw, pkt)
		return l.received.Load() >= 20
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, l.c.ssrc, l.last.Load().SSRC)
	// Its sender reports go through pion's SRTCP too.
	l.t.sendReports()
	require.Eventually(t, func() bool { return l.lastSR.Load() != nil }, 5*time.Second, 10*time.Millisecond, "no sender report")
	require.Equal(t, l.c.ssrc, l.lastSR.Load().SSRC)
	require.Equal(t, l.c.sentPackets.Load(), l.lastSR.Load().PacketCount)
}

// TestSenderReportsAllocateNothing: on the worker's own write path a
// transport's reports are marshalled, encrypted and sent in reused buffers.
func TestSenderReportsAllocateNothing(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	if raceEnabled {
		t.Skip("SRTCP's pooled buffers allocate under the race detector; make test runs this without it")
	}
	w, pr := testWorker(t, 46340)
	l := connectListener(t, w, "T", nil)
	require.True(t, l.t.route.Load().fast())
	raw, pkt := opusPacket(1)
	pr.dispatch(raw, pkt)
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	_, err := l.t.writeReportsLocked(time.Now())
	require.NoError(t, err)
	allocs := leastAllocsPerRun(100, func() {
		if viaPion, err := l.t.writeReportsLocked(time.Now()); err != nil || viaPion != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// TestNoPacketsBeforeTheListenerKnowsTheSSRC: a consumer added to a connected
// transport sends nothing until the listener has answered the offer that
// announced its SSRC; a WebRTC stack drops a stream it meets too early for good.
func TestNoPacketsBeforeTheListenerKnowsTheSSRC(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46330)
	l := connectListener(t, w, "T", nil)
	q := newProducer("Q", w.routers["r"])
	w.routers["r"].addProducer(q)
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "Q"}))
	before := w.packetsOut.Load()
	for seq := uint16(1); seq <= 10; seq++ {
		raw, pkt := opusPacket(seq)
		q.dispatch(raw, pkt)
	}
	require.Equal(t, before, w.packetsOut.Load(), "nothing goes out before the answer")

	l.answer(t)
	seq := uint16(10)
	require.Eventually(t, func() bool {
		seq++
		raw, pkt := opusPacket(seq)
		q.dispatch(raw, pkt)
		return l.tracks.Load() == 1 && l.received.Load() >= 10
	}, 5*time.Second, 5*time.Millisecond, "the listener hears the new stream once it knows it")
}

// TestSequenceRolloverStaysDecryptable sends across the 16-bit sequence wrap:
// the sender's rollover counter must match the listener's estimate (RFC 3711
// §3.3.1), or every packet after the wrap fails authentication.
func TestSequenceRolloverStaysDecryptable(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	for name, profile := range map[string]dtls.SRTPProtectionProfile{"gcm": dtls.SRTP_AEAD_AES_128_GCM, "cm-sha1": dtls.SRTP_AES128_CM_HMAC_SHA1_80} {
		t.Run(name, func(t *testing.T) {
			w, pr := testWorker(t, 46340+int(profile))
			l := connectListener(t, w, "T", func(se *webrtc.SettingEngine) { se.SetSRTPProtectionProfiles(profile) })
			seq := uint16(65500)
			for i := 0; i < 100; i++ {
				raw, pkt := opusPacket(seq)
				pr.dispatch(raw, pkt)
				seq++
				time.Sleep(time.Millisecond)
			}
			require.Eventually(t, func() bool { return l.received.Load() == 100 }, 5*time.Second, 10*time.Millisecond,
				"received %d of 100 across the wrap", l.received.Load())
			require.Equal(t, uint16(63), l.last.Load().SequenceNumber)
		})
	}
}

// TestForwardingAllocatesNothing: a steady fan-out on the worker's own write path
// makes no allocation per packet. The listeners' routes point at drains while it
// is measured: the in-process pion clients allocate for every packet they read,
// and that is not the worker's doing. (Background work of the peer connections
// may still allocate meanwhile, hence the bound of one per fan-out of five.)
func TestForwardingAllocatesNothing(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46350)
	ls := connectListeners(t, w, 5, nil)
	for _, l := range ls {
		require.True(t, l.t.route.Load().fast())
	}
	raw, pkt := opusPacket(1)
	// Contexts and batch buffers are made on first use; every client hears the stream.
	require.Eventually(t, func() bool {
		pkt.SequenceNumber++
		binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
		pr.dispatch(raw, pkt)
		for _, l := range ls {
			if l.received.Load() == 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond)
	for _, l := range ls {
		l.redirectToDrain(t)
	}
	allocs := leastAllocsPerRun(200, func() {
		pkt.SequenceNumber++
		binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
		pr.dispatch(raw, pkt)
	})
	require.Less(t, allocs, 1.0, "allocations per fan-out to 5 listeners")
}

// TestTransportsShareTheWorkerCertificate: one DTLS certificate per worker, not
// one key generation per join.
func TestTransportsShareTheWorkerCertificate(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46360)
	ls := connectListeners(t, w, 2, nil)
	fingerprint := func(l *testListener) string {
		p, err := l.t.pc.SCTP().Transport().GetLocalParameters()
		require.NoError(t, err)
		require.NotEmpty(t, p.Fingerprints)
		return p.Fingerprints[0].Value
	}
	require.Equal(t, fingerprint(ls[0]), fingerprint(ls[1]))
}

// heapConsumer makes the consumers the test allocates escape, as real ones do.
var heapConsumer *consumer

// TestConsumerHotFieldsShareACacheLine: what the forwarding path touches per
// consumer stays in the first 64 bytes of a struct whose size class starts
// objects on 64-byte boundaries (120 bytes take Go's 128-byte class).
func TestConsumerHotFieldsShareACacheLine(t *testing.T) {
	for range 64 {
		heapConsumer = new(consumer)
		require.Zero(t, uintptr(unsafe.Pointer(heapConsumer))%64, "another size may start consumers mid-line")
	}
	var c consumer
	for name, end := range map[string]uintptr{
		"route": unsafe.Offsetof(c.route) + unsafe.Sizeof(c.route), "track": unsafe.Offsetof(c.track) + unsafe.Sizeof(c.track),
		"gcm": unsafe.Offsetof(c.gcm) + unsafe.Sizeof(c.gcm), "srtpKeys": unsafe.Offsetof(c.srtpKeys) + unsafe.Sizeof(c.srtpKeys),
		"ssrc": unsafe.Offsetof(c.ssrc) + unsafe.Sizeof(c.ssrc), "lastSentAt": unsafe.Offsetof(c.lastSentAt) + unsafe.Sizeof(c.lastSentAt),
		"sentPackets": unsafe.Offsetof(c.sentPackets) + unsafe.Sizeof(c.sentPackets), "sentOctets": unsafe.Offsetof(c.sentOctets) + unsafe.Sizeof(c.sentOctets),
		"lastTimestamp": unsafe.Offsetof(c.lastTimestamp) + unsafe.Sizeof(c.lastTimestamp), "bound": unsafe.Offsetof(c.bound) + unsafe.Sizeof(c.bound),
		"pts": unsafe.Offsetof(c.pts) + unsafe.Sizeof(c.pts),
	} {
		require.LessOrEqual(t, end, uintptr(64), name)
	}
}

// TestTheFirstSenderReportIsPrepared: a transport's report writer gets its
// SRTCP context and buffers when the transport connects, and its first report,
// seconds later, uses them: neither a new context nor a grown buffer (only
// pion's SRTCP state of the SSRC is still made then).
func TestTheFirstSenderReportIsPrepared(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46370)
	l := connectListener(t, w, "T", nil)
	require.True(t, l.t.route.Load().fast())
	require.Eventually(t, func() bool {
		l.t.mu.Lock()
		defer l.t.mu.Unlock()
		return l.t.reportOut.ctx != nil
	}, 5*time.Second, 10*time.Millisecond, "the report context is made when the transport connects")
	raw, pkt := opusPacket(1)
	pr.dispatch(raw, pkt)

	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	out := &l.t.reportOut
	require.GreaterOrEqual(t, cap(out.plain), reportBufferLen)
	require.GreaterOrEqual(t, cap(out.sealed), reportBufferLen)
	ctx, plain, sealed := out.ctx, unsafe.SliceData(out.plain), unsafe.SliceData(out.sealed)
	_, err := l.t.writeReportsLocked(time.Now())
	require.NoError(t, err)
	require.NotEmpty(t, out.sealed, "a report was written")
	require.Same(t, ctx, out.ctx, "the prepared context")
	require.Same(t, plain, unsafe.SliceData(out.plain), "the prepared buffer")
	require.Same(t, sealed, unsafe.SliceData(out.sealed), "the prepared buffer")
}
