package worker

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// BenchmarkForwardTCP forwards one packet to N listeners over ICE/TCP (pion's
// write path: SRTP, RFC 4571 framing, a queue and one write per packet on
// each connection's writer goroutine) and, for comparison in the same run, to
// N UDP listeners through the worker's own path. TCP listeners reach the
// worker through proxies that drain what it sends (counting frames), UDP
// listeners' routes point at drains, so no client decrypts.
//
// cpu-ns/forwarded is the dispatching thread's CPU per forwarded packet (what
// a fan-out costs the listeners after it); proc-cpu-ns/forwarded is the whole
// process's (the TCP writer goroutines, the kernel's delivery on loopback and
// the drains, which read what the listeners would), over the packets the
// drains got. The loop is paced so that TCP queues do not overflow:
// dropped/op counts what they dropped anyway.
func BenchmarkForwardTCP(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	const n = 20
	for i, path := range []string{"udp", "tcp"} {
		// Connected once for every round of the sub-benchmark.
		port := 47100 + 10*i
		w, pr := testWorkerWith(b, ipc.InitParams{Port: port, TCPPort: port, Loopback: true})
		var proxies []*stallingProxy
		for j := range n {
			if path == "udp" {
				connectListener(b, w, fmt.Sprint("U", j), nil).redirectToDrain(b)
				continue
			}
			p := newStallingProxy(b, fmt.Sprintf("127.0.0.1:%d", port))
			connectTCPListener(b, w, fmt.Sprint("T", j), p)
			p.drain.Store(true)
			proxies = append(proxies, p)
		}
		time.Sleep(200 * time.Millisecond) // let pion's SRTP start on every transport
		raw, pkt := opusPacket(1)
		b.Run(fmt.Sprintf("listeners=%d/path=%s", n, path), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			drained := func() int64 {
				var sum int64
				for _, p := range proxies {
					sum += p.frames.Load()
				}
				return sum
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, proc0, frames0 := threadCPU(), processCPU(), drained()
			for i := 0; i < b.N; i++ {
				pkt.SequenceNumber++
				binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
				pr.dispatch(raw, pkt)
				if path == "tcp" && i%8 == 7 {
					time.Sleep(50 * time.Microsecond) // the writers keep up
				}
			}
			cpu := threadCPU() - cpu0
			forwarded := int64(b.N * n)
			if path == "tcp" {
				// Until the writers have written what they queued.
				for last, stable := drained(), 0; stable < 5; time.Sleep(20 * time.Millisecond) {
					if now := drained(); now != last {
						last, stable = now, 0
					} else {
						stable++
					}
				}
				forwarded = drained() - frames0
				b.ReportMetric(float64(int64(b.N*n)-forwarded)/float64(b.N), "dropped/op")
			}
			proc := processCPU() - proc0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/forwarded")
			b.ReportMetric(float64(proc.Nanoseconds())/float64(max(forwarded, 1)), "proc-cpu-ns/forwarded")
		})
	}
}

// processCPU is the process's CPU time, all threads (CLOCK_PROCESS_CPUTIME_ID).
func processCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
