package worker

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// BenchmarkForwardWebRTC forwards one packet to N listeners connected over
// loopback (real ICE and DTLS with pion clients) through the worker's own write
// path (SRTP into batch slots, one sendmmsg per fan-out) and, in the same run,
// through pion's stock writer (TrackLocalStaticRTP → interceptors → SRTP → one
// sendto per listener).
//
// cpu-ns/forwarded is the dispatching thread's CPU (user + system, which on
// loopback includes the kernel's delivery) per forwarded packet: the worker's
// cost, whatever the receivers spend on other threads. On the own path the
// listeners' routes then point at plain UDP drains, so allocs/op is the
// forwarding path's alone; pion's path keeps its decrypting clients, whose
// allocations count too.
func BenchmarkForwardWebRTC(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	port := 47000
	for _, n := range []int{1, 20, 200} {
		for _, path := range []string{"own", "pion"} {
			port++
			b.Run(fmt.Sprintf("listeners=%d/path=%s", n, path), func(b *testing.B) {
				w, pr := testWorker(b, port)
				for _, l := range connectListeners(b, w, n, nil) {
					if path == "pion" {
						l.setRoute(&route{})
						continue
					}
					l.redirectToDrain(b)
				}
				time.Sleep(200 * time.Millisecond) // let pion's SRTP start on every transport
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
}

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID, exact to
// the call; getrusage would lag by up to a scheduler tick).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkForwardPipe forwards one packet into N pipes (plain RTP over loopback UDP).
func BenchmarkForwardPipe(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	for _, protected := range []bool{false, true} {
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("srtp=%v/pipes=%d", protected, n), func(b *testing.B) {
				runtime.LockOSThread() // thread CPU time must be this goroutine's
				defer runtime.UnlockOSThread()
				src, _ := producerIntoPipes(b, n, protected)
				raw, pkt := opusPacket(1)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := threadCPU()
				for i := 0; i < b.N; i++ {
					pkt.SequenceNumber++
					src.dispatch(raw, pkt)
				}
				cpu = threadCPU() - cpu
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/forwarded")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/forwarded")
			})
		}
	}
}

// producerIntoPipes is a producer on a bare worker whose stream goes into n
// pipes, all connected to one loopback sink that drains them and counts the
// datagrams.
func producerIntoPipes(tb testing.TB, n int, protected bool) (*producer, *atomic.Int64) {
	tb.Helper()
	a := newBareWorker(tb)
	if err := a.createRouter("r", 0); err != nil {
		tb.Fatal(err)
	}
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sink.Close() })
	received := new(atomic.Int64)
	go drainUDP(sink, received)
	src := newProducer("P", a.routers["r"])
	a.routers["r"].addProducer(src)
	for i := 0; i < n; i++ {
		id := fmt.Sprint("pipe", i)
		if _, err := a.createPipe(ipc.PipeCreate{PipeID: id, RouterID: "r", ListenIP: "127.0.0.1"}); err != nil {
			tb.Fatal(err)
		}
		pt := a.pipes[id]
		var keys *ipc.PipeSRTP
		if protected {
			keys = &ipc.PipeSRTP{SendKey: key(), RecvKey: key()}
		}
		if err := pt.connect(ipc.PipeConnect{PipeID: id, RemoteAddr: sink.LocalAddr().String(), SRTP: keys}); err != nil {
			tb.Fatal(err)
		}
		if err := pt.consume(ipc.PipeFlow{PipeID: id, ProducerID: "P", SSRC: uint32(i + 1)}); err != nil {
			tb.Fatal(err)
		}
	}
	return src, received
}

// drainUDP reads c until it is closed, counting datagrams, without allocating
// (ReadFrom would allocate an address per datagram, which allocs/op would
// count as the forwarding path's).
func drainUDP(c *net.UDPConn, received *atomic.Int64) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
		received.Add(1)
	}
}
