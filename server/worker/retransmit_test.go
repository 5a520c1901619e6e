package worker

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// lossyConn is a client's UDP socket that loses the first copy of chosen RTP
// packets on receive (their sequence numbers are in the clear under SRTP,
// RFC 3711 §3.1), as a lossy last hop would; a retransmission gets through.
type lossyConn struct {
	net.PacketConn
	mu   sync.Mutex
	drop map[uint16]bool // true: still to be dropped
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 12 || b[0]>>6 != 2 || b[1]&0x7f != opusPayloadType && b[1]&0x7f != redPayloadType {
			return n, addr, err
		}
		seq := uint16(b[2])<<8 | uint16(b[3])
		c.mu.Lock()
		lose := c.drop[seq]
		c.drop[seq] = false
		c.mu.Unlock()
		if !lose {
			return n, addr, err
		}
	}
}

// lossyClient tunes a test client to receive through a lossyConn that drops
// the first copy of each of seqs.
func lossyClient(tb testing.TB, seqs ...uint16) func(*webrtc.SettingEngine) {
	tb.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(tb, err)
	conn := &lossyConn{PacketConn: udp, drop: map[uint16]bool{}}
	for _, s := range seqs {
		conn.drop[s] = true
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	tb.Cleanup(func() { _ = mux.Close() })
	return func(se *webrtc.SettingEngine) { se.SetICEUDPMux(mux) }
}

// nackClient is a client's media engine offering generic NACK on Opus, as
// Chromium does, and pion's NACK generator, which asks for what it misses.
func nackClient(tb testing.TB) []func(*webrtc.API) {
	tb.Helper()
	me := &webrtc.MediaEngine{}
	require.NoError(tb, me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: withNACK(OpusCodec, true), PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio))
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(20 * time.Millisecond))
	require.NoError(tb, err)
	ir := &interceptor.Registry{}
	ir.Add(gen)
	return []func(*webrtc.API){webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir)}
}

var lostOnTheWay = []uint16{10, 20, 21, 30, 45}

// sendSlowly dispatches packets first..last of pr at a few milliseconds apart.
func sendSlowly(pr *producer, first, last uint16) {
	for seq := first; seq <= last; seq++ {
		raw, pkt := opusPacket(seq)
		pr.dispatch(raw, pkt)
		time.Sleep(3 * time.Millisecond)
	}
}

// TestListenerNACKsAreAnswered: a listener that loses packets on its last hop
// and NACKs them (pion's generator) gets each back, on its own SSRC and
// sequence number, through the worker's own write path and pion's.
func TestListenerNACKsAreAnswered(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	for name, port := range map[string]int{"own write path": 46900, "pion's write path": 46910} {
		t.Run(name, func(t *testing.T) {
			w, pr := testWorker(t, port)
			tune := lossyClient(t, lostOnTheWay...)
			if port == 46910 {
				lossy := tune
				tune = func(se *webrtc.SettingEngine) {
					lossy(se)
					require.NoError(t, se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer))
				}
			}
			l := connectListener(t, w, "T", tune, nackClient(t)...)
			require.True(t, l.t.nack.Load(), "the answer accepted nack")
			require.Contains(t, l.t.pc.LocalDescription().SDP, "a=rtcp-fb:111 nack\r\n")
			require.Equal(t, port == 46900, l.t.route.Load().fast())
			sendSlowly(pr, 1, 60)
			all := assert.Eventually(t, func() bool { return l.received.Load() == 60 }, 5*time.Second, 5*time.Millisecond)
			require.True(t, all, "the listener got %d of 60 packets (the worker: %d NACKed, %d resent, %d refused, %d missing)",
				l.received.Load(), w.nacks.requested.Load(), w.nacks.resent.Load(), w.nacks.refused.Load(), w.nacks.missing.Load())
			require.Equal(t, l.c.ssrc, l.last.Load().SSRC)
			require.GreaterOrEqual(t, w.nacks.resent.Load(), uint64(len(lostOnTheWay)))
			require.GreaterOrEqual(t, w.nacks.requested.Load(), uint64(len(lostOnTheWay)))
			load := w.load()
			require.Equal(t, w.nacks.resent.Load(), load.Retransmits)
		})
	}
}

// TestNoRetransmissionsWithoutNACK: a listener whose answer did not accept
// nack, or a worker with rtc.nack off, re-sends nothing, whatever NACKs come.
func TestNoRetransmissionsWithoutNACK(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	t.Run("answer without nack", func(t *testing.T) {
		w, pr := testWorker(t, 46920)
		l := connectListener(t, w, "T", lossyClient(t, lostOnTheWay...))
		require.False(t, l.t.nack.Load())
		assertNoRetransmissions(t, w, pr, l)
	})
	t.Run("rtc.nack off", func(t *testing.T) {
		w, pr := testWorkerWith(t, ipc.InitParams{Port: 46930, Loopback: true, NoNACK: true})
		l := connectListener(t, w, "T", lossyClient(t, lostOnTheWay...), nackClient(t)...)
		require.NotContains(t, l.t.pc.LocalDescription().SDP, "nack")
		require.False(t, l.t.nack.Load())
		assertNoRetransmissions(t, w, pr, l)
	})
}

// assertNoRetransmissions sends 60 packets to l, which loses lostOnTheWay,
// NACKs them by hand, and checks that nothing comes back.
func assertNoRetransmissions(t *testing.T, w *Worker, pr *producer, l *testListener) {
	t.Helper()
	sendSlowly(pr, 1, 60)
	want := int64(60 - len(lostOnTheWay))
	require.Eventually(t, func() bool { return l.received.Load() == want }, 5*time.Second, 5*time.Millisecond)
	nacked := &rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: l.c.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(lostOnTheWay)}
	require.NoError(t, l.pc.WriteRTCP([]rtcp.Packet{nacked}))
	// The worker reads a listener's RTCP in order: once it has taken this
	// report, it has taken the NACK before it.
	marker := &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: l.c.ssrc, TotalLost: 77}}}
	require.NoError(t, l.pc.WriteRTCP([]rtcp.Packet{marker}))
	require.Eventually(t, func() bool { return l.c.totalLost.Load() == 77 }, 5*time.Second, 5*time.Millisecond)
	sendSlowly(pr, 61, 62) // a retransmission would be ahead of these
	require.Eventually(t, func() bool { return l.received.Load() == want+2 }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, w.nacks.requested.Load())
	require.Zero(t, w.nacks.resent.Load())
}

// TestListenerAskingForEverythingIsLimited: NACKs beyond maxResends per
// packet, and past the listener's rate, are refused and counted.
func TestListenerAskingForEverythingIsLimited(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46940)
	l := connectListener(t, w, "T", nil, nackClient(t)...)
	require.True(t, l.t.nack.Load())
	for seq := uint16(1); seq <= 30; seq++ {
		raw, pkt := opusPacket(seq)
		pr.dispatch(raw, pkt)
	}
	now := time.Now().UnixNano()
	all := rtcp.NackPairsFromSequenceNumbers([]uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30})
	l.c.retransmit(all, now)
	require.Equal(t, uint64(30), w.nacks.requested.Load())
	require.Equal(t, uint64(retransmitBurst), w.nacks.resent.Load(), "one burst")
	require.Equal(t, uint64(30-retransmitBurst), w.nacks.refused.Load())
	// An hour later the bucket is full, but the history is stale.
	l.c.retransmit(all, now+int64(time.Hour))
	require.Equal(t, uint64(30), w.nacks.missing.Load())
	// Twice per packet, however often asked and however full the bucket.
	one := []rtcp.NackPair{{PacketID: 1}}
	for range 3 {
		l.c.retransmit(one, now)
		l.c.rtx.limit.tokens = retransmitBurst
	}
	require.Equal(t, uint64(retransmitBurst+1), w.nacks.resent.Load(), "packet 1 went out twice: once in the burst, once now")
}

// TestPublisherIsAskedForMissingPackets: a publisher that negotiated nack and
// skips packets gets a NACK naming them, from the worker's own write path; one
// that did not gets none.
func TestPublisherIsAskedForMissingPackets(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	for name, port := range map[string]int{"nack": 46950, "no nack": 46960} {
		t.Run(name, func(t *testing.T) {
			w, _ := testWorker(t, port)
			var opts []func(*webrtc.API)
			if name == "nack" {
				opts = nackClient(t)[:1]
			}
			tr, mic, sender := connectPublisher(t, w, "PUB", "M", nil, opts...)
			require.Equal(t, name == "nack", tr.nack.Load())
			nacks := make(chan *rtcp.TransportLayerNack, 16)
			go readRTCP(sender.ReadRTCP, func(p rtcp.Packet) {
				if n, ok := p.(*rtcp.TransportLayerNack); ok {
					nacks <- n
				}
			})
			received := func() uint32 {
				tr.mu.Lock()
				p := tr.producer
				tr.mu.Unlock()
				if p == nil {
					return 0
				}
				p.stats.mu.Lock()
				defer p.stats.mu.Unlock()
				return p.stats.received
			}
			seq := uint16(0)
			require.Eventually(t, func() bool {
				seq++
				publish(t, mic, seq)
				return received() >= 30
			}, 10*time.Second, 5*time.Millisecond, "the worker receives the stream")
			time.Sleep(50 * time.Millisecond) // pion's buffered packets are through
			before := received()
			// seq+1 and seq+2 are lost on the way.
			publish(t, mic, seq+3)
			publish(t, mic, seq+4)
			require.Eventually(t, func() bool { return received() == before+2 }, 5*time.Second, 5*time.Millisecond)
			if name == "no nack" {
				require.Zero(t, w.nacks.asked.Load())
				select {
				case n := <-nacks:
					t.Fatalf("a NACK reached a publisher that did not negotiate it: %v", n)
				case <-time.After(100 * time.Millisecond):
				}
				return
			}
			// A NACK for a gap in the warm-up may come first: on a loaded
			// machine a packet can miss the worker before its track is read
			// (13 once, in make test), and asking for it is right.
			asked := map[uint16]bool{}
			deadline := time.After(5 * time.Second)
			for !asked[seq+1] || !asked[seq+2] {
				select {
				case n := <-nacks:
					require.Equal(t, uint32(sender.GetParameters().Encodings[0].SSRC), n.MediaSSRC)
					for _, p := range n.Nacks {
						for _, s := range p.PacketList() {
							asked[s] = true
						}
					}
				case <-deadline:
					t.Fatalf("no NACK for %d and %d reached the publisher (asked for %v)", seq+1, seq+2, asked)
				}
			}
			earlier := 0
			for s := range asked {
				if s != seq+1 && s != seq+2 {
					// Not seq+3 or seq+4, received after the gap, nor any never sent.
					require.Less(t, s, seq+1, "asked for %d, which was not missing: %v", s, asked)
					earlier++
				}
			}
			require.LessOrEqual(t, earlier, int(uint32(seq)-before), "asked for more warm-up packets than it missed (%d sent, %d received): %v", seq, before, asked)
			require.GreaterOrEqual(t, w.nacks.asked.Load(), uint64(2))
			require.True(t, strings.Contains(tr.pc.RemoteDescription().SDP, "nack"))
		})
	}
}

// TestNACKPathsAllocateNothing: with listeners that negotiated nack, a steady
// fan-out (which keeps each packet in the history) and answering a NACK on
// the worker's own write path allocate nothing, and neither does asking a
// publisher for a gap once its first NACK has set up its SRTCP.
func TestNACKPathsAllocateNothing(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	if raceEnabled {
		t.Skip("SRTCP's pooled buffers allocate under the race detector; make test runs this without it")
	}
	w, pr := testWorker(t, 46970)
	var ls []*testListener
	for i := range 5 {
		ls = append(ls, connectListener(t, w, "T"+string(rune('0'+i)), nil, nackClient(t)...))
	}
	raw, pkt := opusPacket(1)
	require.Eventually(t, func() bool {
		pkt.SequenceNumber++
		raw[2], raw[3] = byte(pkt.SequenceNumber>>8), byte(pkt.SequenceNumber)
		pr.dispatch(raw, pkt)
		for _, l := range ls {
			if l.received.Load() == 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond)
	for _, l := range ls {
		require.True(t, l.t.nack.Load())
		l.redirectToDrain(t)
	}
	c := ls[0].c
	c.retransmit([]rtcp.NackPair{{PacketID: pkt.SequenceNumber}}, time.Now().UnixNano()) // makes c.rtx
	pair := make([]rtcp.NackPair, 1)
	before := w.nacks.resent.Load()
	allocs := leastAllocsPerRun(200, func() {
		pkt.SequenceNumber++
		raw[2], raw[3] = byte(pkt.SequenceNumber>>8), byte(pkt.SequenceNumber)
		pr.dispatch(raw, pkt)
		pair[0].PacketID = pkt.SequenceNumber
		c.rtx.limit.tokens = retransmitBurst
		c.retransmit(pair, time.Now().UnixNano())
	})
	require.Less(t, allocs, 1.0, "allocations per fan-out to 5 listeners and one retransmission")
	require.Equal(t, before+201, w.nacks.resent.Load(), "every NACK was answered")

	tr, mic, sender := connectPublisher(t, w, "PUB", "M", nil, nackClient(t)[:1]...)
	require.True(t, tr.nack.Load())
	seq := uint16(0)
	var p *producer
	require.Eventually(t, func() bool {
		seq++
		publish(t, mic, seq)
		tr.mu.Lock()
		p = tr.producer
		tr.mu.Unlock()
		return p != nil && tr.route.Load() != nil && tr.route.Load().fast() && w.api.sockets.ingress.taken.Load() > 0
	}, 10*time.Second, 5*time.Millisecond)
	_, in := opusPacket(seq + 1)
	in.SSRC = uint32(sender.GetParameters().Encodings[0].SSRC)
	inRaw, _ := in.Marshal()
	gap := func() {
		in.SequenceNumber += 2 // one lost each time
		inRaw[2], inRaw[3] = byte(in.SequenceNumber>>8), byte(in.SequenceNumber)
		p.dispatch(inRaw, in)
	}
	in.SequenceNumber = seq + 100
	gap() // the first NACK sets up the SRTCP context and the SSRC's state
	asked := w.nacks.asked.Load()
	allocs = leastAllocsPerRun(100, gap)
	require.Zero(t, allocs, "allocations per NACK to a publisher")
	require.Greater(t, w.nacks.asked.Load(), asked)
}
