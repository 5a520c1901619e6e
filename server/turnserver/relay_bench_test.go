package turnserver

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkRelayToWorker is one 100-byte packet from a TURN client through
// the relay to a worker's socket (the client's ChannelData send, the
// server's read, checks and write, the worker's read), against
// BenchmarkDirectToWorker, the same packet sent straight: the difference is
// what relaying costs per packet. Both run in one process, on loopback;
// cpu-ns/op is the process's CPU time per packet.
func BenchmarkRelayToWorker(b *testing.B) {
	cfg := testTurnConfig()
	cfg.MaxBytesPerSecond = 1 << 30 // the bucket is not what is measured
	f := start(b, cfg)
	user, pass := f.srv.creds.Issue("PA_bench", time.Hour)
	relay, err := f.dial(b, user, pass).Allocate()
	require.NoError(b, err)
	defer relay.Close()
	benchSend(b, func(p []byte) error { _, err := relay.WriteTo(p, f.worker.LocalAddr()); return err }, f.worker)
}

func BenchmarkDirectToWorker(b *testing.B) {
	worker, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(b, err)
	defer worker.Close()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(b, err)
	defer conn.Close()
	benchSend(b, func(p []byte) error { _, err := conn.WriteTo(p, worker.LocalAddr()); return err }, worker)
}

// benchSend sends b.N packets in windows of 32 and reads each at the worker.
func benchSend(b *testing.B, send func([]byte) error, worker net.PacketConn) {
	p, buf := make([]byte, 100), make([]byte, 1500)
	for range 10 { // past the client's permission and channel bind
		require.NoError(b, send(p))
		_, _, _ = worker.ReadFrom(buf)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	defer func() { b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op") }()
	for i := 0; i < b.N; i += 32 {
		n := min(32, b.N-i)
		for range n {
			if err := send(p); err != nil {
				b.Fatal(err)
			}
		}
		for range n {
			_ = worker.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := worker.ReadFrom(buf); err != nil {
				b.Fatal("lost:", err)
			}
		}
	}
}

// processCPU is the process's user and system CPU time so far, in ns: the
// client, the relay and the worker's socket together.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
