package e2e

import (
	"net"
	"sync/atomic"
	"testing"
)

// A server's workers listen on rtc.port+i, a fixed UDP port each: tests that
// run in parallel need blocks of their own. The blocks come from below the
// ephemeral range (50000 and up in scripts/in-netns.sh), so no client socket
// the kernel places can take one between the probe and the server's bind;
// other packages' tests (server/control from 41000, server/worker's 46100)
// stay above the blocks and below that range too.
const (
	rtcPortFirst = 20000
	rtcPortLast  = 32000
	rtcPortBlock = 16 // ports per server: its workers', then its TURN server's (turnPorts)
)

var nextRTCBlock atomic.Int32

// rtcPorts returns the first of rtcPortBlock consecutive UDP ports that no
// one in this network namespace holds now and no other test of this process
// is given, for one server's --rtc-port.
func rtcPorts(t testing.TB) int {
	t.Helper()
	for {
		base := rtcPortFirst + int(nextRTCBlock.Add(1)-1)*rtcPortBlock
		if base+rtcPortBlock > rtcPortLast {
			t.Fatal("out of RTC port blocks")
		}
		if udpPortsFree(base, rtcPortBlock) {
			return base
		}
	}
}

// udpPortsFree binds every port of the range on the wildcard address (which
// fails if any address holds it) and lets them go.
func udpPortsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: p})
		if err != nil {
			return false
		}
		_ = c.Close()
	}
	return true
}
