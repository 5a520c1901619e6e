package worker

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// nackREDClient is nackClient with RED (RFC 2198) first, both with generic
// NACK, as Chromium answers the worker's offer.
func nackREDClient(tb testing.TB) []func(*webrtc.API) {
	tb.Helper()
	me := &webrtc.MediaEngine{}
	require.NoError(tb, me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: withNACK(REDCodec, true), PayloadType: redPayloadType}, webrtc.RTPCodecTypeAudio))
	require.NoError(tb, me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: withNACK(OpusCodec, true), PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio))
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(20 * time.Millisecond))
	require.NoError(tb, err)
	ir := &interceptor.Registry{}
	ir.Add(gen)
	return []func(*webrtc.API){webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir)}
}

// TestREDPublisherRetransmittedPerListener: the history keeps a RED
// publisher's packets as they came, and a re-sent one goes through the same
// per-listener conversion as its first copy: a listener without RED gets
// the primary block back as Opus, one with RED gets RED, on the worker's
// own write path and on pion's.
func TestREDPublisherRetransmittedPerListener(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46980, Loopback: true, RED: true})
	_, mic := connectREDPublisher(t, w, "PUB", "MIC")
	seq := uint16(1)
	require.Eventually(t, func() bool {
		seq++
		require.NoError(t, mic.WriteRTP(redPacketFor(seq)))
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.producers["MIC"] != nil
	}, 10*time.Second, 5*time.Millisecond, "the worker opens the RED stream")

	// Far past what the publisher sent so far, so the listeners' first
	// packets are all from here on.
	const first, last = 5001, 5060
	lost := []uint16{5010, 5020, 5021, 5030, 5045}
	pionPath := func(tune func(*webrtc.SettingEngine)) func(*webrtc.SettingEngine) {
		return func(se *webrtc.SettingEngine) {
			tune(se)
			require.NoError(t, se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer))
		}
	}
	listeners := map[string]struct {
		l   *testListener
		red bool
	}{
		"own path, RED":   {connectListenerTo(t, w, "L1", "MIC", lossyClient(t, lost...), nackREDClient(t)...), true},
		"own path, Opus":  {connectListenerTo(t, w, "L2", "MIC", lossyClient(t, lost...), nackClient(t)...), false},
		"pion path, RED":  {connectListenerTo(t, w, "L3", "MIC", pionPath(lossyClient(t, lost...)), nackREDClient(t)...), true},
		"pion path, Opus": {connectListenerTo(t, w, "L4", "MIC", pionPath(lossyClient(t, lost...)), nackClient(t)...), false},
	}
	require.True(t, listeners["own path, Opus"].l.t.route.Load().fast())
	require.False(t, listeners["pion path, Opus"].l.t.route.Load().fast())
	for _, x := range listeners {
		require.True(t, x.l.t.nack.Load(), "the answer accepted nack")
		require.Contains(t, x.l.t.pc.LocalDescription().SDP, "a=rtcp-fb:63 nack\r\n", "nack is offered on RED")
		require.Contains(t, x.l.t.pc.LocalDescription().SDP, "a=rtcp-fb:111 nack\r\n")
	}
	for s := uint16(first); s <= last; s++ {
		require.NoError(t, mic.WriteRTP(redPacketFor(s)))
		time.Sleep(3 * time.Millisecond)
	}
	for name, x := range listeners {
		t.Run(name, func(t *testing.T) {
			require.Eventually(t, func() bool {
				for _, s := range lost {
					if _, ok := x.l.bySeq.Load(s); !ok {
						return false
					}
				}
				_, ok := x.l.bySeq.Load(uint16(last))
				return ok
			}, 5*time.Second, 5*time.Millisecond, "the listener gets the lost packets again")
			for _, s := range lost {
				v, _ := x.l.bySeq.Load(s)
				got := v.(*rtp.Packet)
				require.Equal(t, x.l.c.ssrc, got.SSRC)
				if x.red {
					require.Equal(t, uint8(redPayloadType), got.PayloadType)
					require.Equal(t, redPacketFor(s).Payload, got.Payload, "RED as the publisher sent it")
					continue
				}
				_, primary := opusPacket(s)
				require.Equal(t, uint8(opusPayloadType), got.PayloadType)
				require.Equal(t, primary.Payload, got.Payload, "the primary block alone, not the RED packet")
			}
		})
	}
	require.GreaterOrEqual(t, w.nacks.resent.Load(), uint64(4*len(lost)))
}

// TestREDRetransmissionAllocatesNothing: re-sending a RED publisher's packet
// on the worker's own write path, as RED and stripped to its primary, parses
// it again without allocating.
func TestREDRetransmissionAllocatesNothing(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	if raceEnabled {
		t.Skip("SRTCP's pooled buffers allocate under the race detector; make test runs this without it")
	}
	w, pr := testWorkerWith(t, ipc.InitParams{Port: 46990, Loopback: true, RED: true})
	pr.redPT = redPayloadType
	ls := []*testListener{connectListener(t, w, "R", nil, nackREDClient(t)...), connectListener(t, w, "O", nil, nackClient(t)...)}
	pkt := redPacketFor(1)
	raw, err := pkt.Marshal()
	require.NoError(t, err)
	require.NoError(t, pkt.Unmarshal(raw)) // pkt's payload in raw, as dispatch gets it
	require.Eventually(t, func() bool {
		nextRED(raw, pkt)
		pr.dispatch(raw, pkt)
		return ls[0].received.Load() > 0 && ls[1].received.Load() > 0
	}, 5*time.Second, 5*time.Millisecond)
	for _, l := range ls {
		require.True(t, l.t.nack.Load())
		require.True(t, l.t.route.Load().fast())
		l.redirectToDrain(t)
	}
	for _, l := range ls {
		l.c.retransmit([]rtcp.NackPair{{PacketID: pkt.SequenceNumber}}, time.Now().UnixNano()) // makes c.rtx
	}
	pair := make([]rtcp.NackPair, 1)
	before := w.nacks.resent.Load()
	allocs := leastAllocsPerRun(200, func() {
		nextRED(raw, pkt)
		pr.dispatch(raw, pkt)
		pair[0].PacketID = pkt.SequenceNumber
		for _, l := range ls {
			l.c.rtx.limit.tokens = retransmitBurst
			l.c.retransmit(pair, time.Now().UnixNano())
		}
	})
	require.Less(t, allocs, 1.0, "allocations per RED fan-out and its retransmission as RED and as Opus")
	require.Equal(t, before+2*201, w.nacks.resent.Load(), "every NACK was answered")
}
