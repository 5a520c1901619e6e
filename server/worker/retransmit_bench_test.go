package worker

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/testenv"
)

// BenchmarkRetransmit answers one listener's NACKs on the worker's own write
// path: per NACK, 1 packet or 16 (a burst of loss), looked up
// in the history, sealed again and sent in one batch (16, not a pair's 17:
// the listener's bucket holds 16). cpu-ns/retransmit is the
// thread's CPU per packet re-sent, to set beside BenchmarkForwardWebRTC's
// cpu-ns/forwarded.
func BenchmarkRetransmit(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	port := 47100
	for _, per := range []int{1, retransmitBurst} {
		port++
		b.Run(fmt.Sprintf("packets=%d", per), func(b *testing.B) {
			w, pr := testWorker(b, port)
			l := connectListener(b, w, "T", nil, nackClient(b)...)
			l.redirectToDrain(b)
			raw, pkt := opusPacket(1)
			for range historySlots {
				pkt.SequenceNumber++
				binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
				pr.dispatch(raw, pkt)
			}
			first := pkt.SequenceNumber - historySlots + 1
			c := l.c
			c.retransmit([]rtcp.NackPair{{PacketID: first}}, time.Now().UnixNano())
			pair := []rtcp.NackPair{{PacketID: first}}
			if per > 1 {
				pair[0].LostPackets = 1<<(per-1) - 1
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU()
			sent := w.nacks.resent.Load()
			for i := 0; i < b.N; i++ {
				now := time.Now().UnixNano()
				for k := range uint16(per) {
					pr.history.slots[(first+k)&(historySlots-1)].at = now // as if just forwarded
				}
				c.rtx.limit.tokens = retransmitBurst
				c.rtx.resent = [historySlots]struct {
					at int64
					n  uint8
				}{}
				c.retransmit(pair, now)
			}
			cpu := threadCPU() - cpu0
			b.StopTimer()
			if got := w.nacks.resent.Load() - sent; got != uint64(b.N*per) {
				b.Fatalf("%d of %d packets re-sent", got, b.N*per)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*per), "cpu-ns/retransmit")
		})
	}
}

// BenchmarkForwardWithNACK is BenchmarkForwardWebRTC's own path with
// listeners that negotiated NACK: each fan-out also keeps its packet in the
// producer's history.
func BenchmarkForwardWithNACK(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	port := 47110
	for _, n := range []int{1, 20, 200} {
		port++
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			w, pr := testWorker(b, port)
			for i := range n {
				connectListener(b, w, fmt.Sprint("T", i), nil, nackClient(b)...).redirectToDrain(b)
			}
			if !pr.keepHistory.Load() {
				b.Fatal("no history kept")
			}
			time.Sleep(200 * time.Millisecond)
			raw, pkt := opusPacket(1)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU()
			for i := 0; i < b.N; i++ {
				pkt.SequenceNumber++
				binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
				pr.dispatch(raw, pkt)
			}
			cpu := threadCPU() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/forwarded")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/forwarded")
		})
	}
}

// BenchmarkNACKRecovery is a listener losing a share of the worker's RTP at
// random on its last hop (seeded, retransmissions as likely to be lost), with
// and without NACK: 250 packets at 20 ms (a real stream's rate, which the
// per-listener limit is sized for), then 300 ms for the last answers.
// residual-loss-% is what the listener never got; extra-packets-% the
// retransmissions against the stream. One run per b.N: a figure, not a timing.
func BenchmarkNACKRecovery(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	port := 47120
	for _, loss := range []float64{0.05, 0.10, 0.20} {
		for _, on := range []bool{false, true} {
			port++
			b.Run(fmt.Sprintf("loss=%.0f%%/nack=%v", loss*100, on), func(b *testing.B) {
				var residual, extra float64
				for i := 0; i < b.N; i++ {
					r, e := nackRecoveryRun(b, port, loss, on, uint64(i))
					residual += r
					extra += e
				}
				b.ReportMetric(100*residual/float64(b.N), "residual-loss-%")
				b.ReportMetric(100*extra/float64(b.N), "extra-packets-%")
			})
		}
	}
}

func nackRecoveryRun(b *testing.B, port int, loss float64, on bool, seed uint64) (residual, extra float64) {
	w, pr := testWorker(b, port)
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	conn := &randomLossConn{PacketConn: udp, p: loss, rng: rand.New(rand.NewPCG(seed, 33))}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	defer func() { _ = mux.Close() }()
	var opts []func(*webrtc.API)
	if on {
		opts = nackClient(b)
	}
	l := connectListener(b, w, "T", func(se *webrtc.SettingEngine) { se.SetICEUDPMux(mux) }, opts...)
	conn.on.Store(true)
	const n = 250
	before := l.received.Load()
	for seq := uint16(1000); seq < 1000+n; seq++ {
		raw, pkt := opusPacket(seq)
		pr.dispatch(raw, pkt)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := l.received.Load() - before
	return 1 - float64(got)/n, float64(w.nacks.resent.Load()) / n
}

// randomLossConn loses each RTP packet it receives with probability p, once on.
type randomLossConn struct {
	net.PacketConn
	p   float64
	on  atomic.Bool
	mu  sync.Mutex
	rng *rand.Rand
}

func (c *randomLossConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.on.Load() || n < 12 || b[0]>>6 != 2 || b[1]&0x7f != opusPayloadType {
			return n, addr, err
		}
		c.mu.Lock()
		lose := c.rng.Float64() < c.p
		c.mu.Unlock()
		if !lose {
			return n, addr, err
		}
	}
}
