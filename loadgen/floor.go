package loadgen

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/voicectl/voicectl/internal/udpmsg"

	"github.com/voicectl/voicectl/client"
)

// FloorParams shape the floor measurement.
type FloorParams struct {
	Packets      int // to send in all
	Size         int // bytes per packet
	Destinations int
	// Batch is the packets per sendmmsg when BurstInterval is 0; in bursts
	// every destination gets one packet per sendmmsg, as from a worker's fan-out.
	Batch int
	// BurstInterval, when set, sends one packet to every destination this often
	// (a fan-out per incoming packet); 0 sends back to back.
	BurstInterval time.Duration
	// ReadPacing is how often the destinations read, as load-generator
	// listeners do (client.Sink).
	ReadPacing time.Duration
}

// FloorResult is the cost of the cheapest possible forwarding: raw sendmmsg of
// equal-size packets over loopback, no SRTP, no bookkeeping.
type FloorResult struct {
	Packets          int     `json:"packets"`
	Size             int     `json:"size"`
	Destinations     int     `json:"destinations"`
	Batch            int     `json:"batch"`
	BurstIntervalMs  float64 `json:"burst_interval_ms"`
	Received         int64   `json:"received"`
	CPUMicrosPerPkt  float64 `json:"cpu_us_per_packet"`
	WallMicrosPerPkt float64 `json:"wall_us_per_packet"` // time in sendmmsg
}

// Floor sends p.Packets packets to p.Destinations sinks with sendmmsg(2) and
// measures the sending thread's CPU per packet. On loopback the kernel delivers
// each datagram in the sender's context, so the receivers' side counts too:
// the sinks read like listeners, and bursts reproduce a worker's fan-outs (a
// back-to-back loop keeps every cache warm and costs less than a worker ever could).
func Floor(p FloorParams) (FloorResult, error) {
	res := FloorResult{Packets: p.Packets, Size: p.Size, Destinations: p.Destinations, Batch: p.Batch,
		BurstIntervalMs: float64(p.BurstInterval.Microseconds()) / 1000}
	if p.BurstInterval > 0 {
		res.Batch = min(p.Destinations, 1024)
	}
	if p.Packets <= 0 || p.Size < 12 || p.Destinations <= 0 || res.Batch <= 0 {
		return res, fmt.Errorf("floor: packets, destinations and batch must be positive and size at least 12")
	}
	sinks := make([]*client.Sink, 0, p.Destinations)
	defer func() {
		for _, s := range sinks {
			_ = s.Close()
		}
	}()
	addrs := make([]net.Addr, 0, p.Destinations)
	for range p.Destinations {
		s, err := client.ListenSink(p.ReadPacing)
		if err != nil {
			return res, err
		}
		sinks = append(sinks, s)
		addrs = append(addrs, s.Addr())
	}
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return res, err
	}
	defer src.Close()
	_ = src.SetWriteBuffer(4 << 20)
	// The worker's send socket's options, so the floor costs what its sends would.
	if raw, err := src.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { _ = udpmsg.SetDontFragment(int(fd)) })
	}
	pc := ipv4.NewPacketConn(src)
	payload := make([]byte, p.Size)
	payload[0], payload[1] = 0x80, 111 // RTP-shaped, so the sinks count it
	msgs := make([]ipv4.Message, res.Batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload}
	}
	// Count only this thread's CPU: the sinks read on other threads.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu, wall time.Duration
	sent, next, due := 0, 0, time.Now()
	for sent < p.Packets {
		if p.BurstInterval > 0 {
			due = due.Add(p.BurstInterval)
			time.Sleep(time.Until(due))
		}
		n := min(res.Batch, p.Packets-sent)
		for i := 0; i < n; i++ {
			msgs[i].Addr = addrs[next]
			next = (next + 1) % len(addrs)
		}
		cpu0, wall0 := threadCPU(), time.Now()
		for off := 0; off < n; {
			k, err := pc.WriteBatch(msgs[off:n], 0)
			if err != nil {
				return res, fmt.Errorf("sendmmsg: %w", err)
			}
			off += k
		}
		cpu += threadCPU() - cpu0
		wall += time.Since(wall0)
		sent += n
	}
	res.Received = drained(sinks, int64(p.Packets), p.ReadPacing+200*time.Millisecond)
	res.CPUMicrosPerPkt = float64(cpu.Nanoseconds()) / 1e3 / float64(p.Packets)
	res.WallMicrosPerPkt = float64(wall.Nanoseconds()) / 1e3 / float64(p.Packets)
	return res, nil
}

// drained waits for the sinks' last reads and returns what they received:
// until they have all of want, or their count stands still for quiet (a
// read pacing and more: a sink starved of CPU reads late, it has not lost
// what it has not read yet).
func drained(sinks []*client.Sink, want int64, quiet time.Duration) int64 {
	total := func() int64 {
		var n int64
		for _, s := range sinks {
			n += s.Received()
		}
		return n
	}
	last, since := total(), time.Now()
	for last < want && time.Since(since) < quiet {
		time.Sleep(5 * time.Millisecond)
		if n := total(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}
