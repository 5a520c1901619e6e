package loadgen

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"golang.org/x/net/ipv4"
)

// FloorResult is the cost of the cheapest possible forwarding: raw sendmmsg of
// equal-size packets over loopback, no SRTP, no bookkeeping.
type FloorResult struct {
	Packets          int     `json:"packets"`
	Size             int     `json:"size"`
	Destinations     int     `json:"destinations"`
	Batch            int     `json:"batch"`
	CPUMicrosPerPkt  float64 `json:"cpu_us_per_packet"`
	WallMicrosPerPkt float64 `json:"wall_us_per_packet"`
}

// Floor sends packets of size bytes round-robin to destinations loopback sockets
// in batches of batch with sendmmsg(2), and measures this process's CPU per packet.
func Floor(packets, size, destinations, batch int) (FloorResult, error) {
	res := FloorResult{Packets: packets, Size: size, Destinations: destinations, Batch: batch}
	var sinks []*net.UDPConn
	defer func() {
		for _, s := range sinks {
			_ = s.Close()
		}
	}()
	var addrs []net.Addr
	for i := 0; i < destinations; i++ {
		s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return res, err
		}
		sinks = append(sinks, s)
		addrs = append(addrs, s.LocalAddr())
		go func() { // drain, as listeners would
			buf := make([]byte, 2048)
			for {
				if _, _, err := s.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
	}
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return res, err
	}
	defer src.Close()
	_ = src.SetWriteBuffer(4 << 20)
	pc := ipv4.NewPacketConn(src)
	payload := make([]byte, size)
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload}
	}
	// Count only this thread's CPU: the drains above run on other threads.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, cpu0 := time.Now(), threadCPU()
	sent, next := 0, 0
	for sent < packets {
		n := min(batch, packets-sent)
		for i := 0; i < n; i++ {
			msgs[i].Addr = addrs[next]
			next = (next + 1) % len(addrs)
		}
		k, err := pc.WriteBatch(msgs[:n], 0)
		if err != nil {
			return res, fmt.Errorf("sendmmsg: %w", err)
		}
		sent += k
	}
	cpu, wall := threadCPU()-cpu0, time.Since(start)
	res.CPUMicrosPerPkt = float64(cpu.Microseconds()) / float64(packets)
	res.WallMicrosPerPkt = float64(wall.Microseconds()) / float64(packets)
	return res, nil
}
