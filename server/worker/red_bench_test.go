package worker

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// BenchmarkForwardRED is BenchmarkForwardWebRTC's own path for a room whose
// publisher sends RED (one redundant block, RFC 2198): to listeners that
// negotiated RED (forwarded as sent, blocks renumbered) and to listeners
// that did not (stripped to the primary). Compare with
// BenchmarkForwardWebRTC/listeners=200/path=own, the same room in plain Opus.
func BenchmarkForwardRED(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	port := 47100
	for _, n := range []int{200} {
		for _, red := range []bool{true, false} {
			port++
			name := "opus"
			if red {
				name = "red"
			}
			b.Run(fmt.Sprintf("listeners=%d/listener=%s", n, name), func(b *testing.B) {
				w, pr := testWorkerWith(b, ipc.InitParams{Port: port, Loopback: true, RED: true})
				pr.redPT = redPayloadType
				for _, l := range redListeners(b, w, n, red) {
					l.redirectToDrain(b)
				}
				time.Sleep(200 * time.Millisecond)
				pkt := redPacketFor(1)
				raw, err := pkt.Marshal()
				require.NoError(b, err)
				require.NoError(b, pkt.Unmarshal(raw))
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := threadCPU()
				for i := 0; i < b.N; i++ {
					nextRED(raw, pkt)
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
