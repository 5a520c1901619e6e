package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A netFault is a set of iptables rules in the test's network namespace that
// make one server's network misbehave as a firewall or a dead link would.
// Rules go in INPUT and DROP in silence: every packet on lo passes INPUT
// once, so a rule there cuts both directions, and a DROP in OUTPUT would make
// sendto fail with EPERM, which no real path does
// (docs: /work/shared/notes/testing-webrtc-here.md). Each rule matches the
// server's own port block (e2e/ports_test.go) so tests running in parallel
// in the one namespace do not hit each other's servers; t.Cleanup removes
// whatever is left.
type netFault struct {
	t     testing.TB
	mu    sync.Mutex
	rules [][]string // rule specs (after the chain) in place now
}

// faultEnv keeps a faulted server's media on 127.0.0.1, where the rules
// match: the relay tests put 127.0.0.11-13 on lo, and a server with rtc.ips
// empty would offer candidates there too, which the pages could take round
// the fault.
func faultEnv(env ...string) []string {
	return append([]string{"VOICECTL_RTC_IPS=127.0.0.1"}, env...)
}

// newNetFault returns a fault with no rules yet; its rules go when the test ends.
func newNetFault(t testing.TB) *netFault {
	t.Helper()
	_, err := exec.LookPath("iptables")
	require.NoError(t, err, "iptables is required (make test installs it through scripts/test-deps.sh)")
	f := &netFault{t: t}
	t.Cleanup(f.clear)
	return f
}

// iptables runs one command; -w waits for the xtables lock, which parallel
// tests take in turn.
func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// add inserts rule (everything after "-I INPUT") at the head of INPUT.
func (f *netFault) add(rule ...string) {
	f.t.Helper()
	require.NoError(f.t, iptables(append([]string{"-I", "INPUT"}, rule...)...))
	f.mu.Lock()
	f.rules = append(f.rules, rule)
	f.mu.Unlock()
}

// clear deletes every rule this fault added: the network is back.
func (f *netFault) clear() {
	f.mu.Lock()
	rules := f.rules
	f.rules = nil
	f.mu.Unlock()
	for _, r := range rules {
		if err := iptables(append([]string{"-D", "INPUT"}, r...)...); err != nil {
			f.t.Errorf("remove fault rule: %v", err)
		}
	}
}

// portRange is first:last of n ports from first, as iptables writes it.
func portRange(first, n int) string { return fmt.Sprintf("%d:%d", first, first+n-1) }

// dropUDP drops every UDP datagram between 127.0.0.1 and the server's
// ports (its rtc port block): what a firewall that blocks UDP does to the
// pages' media. Between the server's own parts the datagrams still flow: its
// TURN server relays to the workers from another address (turnRelayIP).
func (f *netFault) dropUDP(s *server) {
	f.drop("udp", portRange(s.rtcPort, rtcPortBlock))
}

// dropUDPFor drops the server's UDP for d, then restores it; it returns when
// the rules are gone, with the time they went.
func (f *netFault) dropUDPFor(s *server, d time.Duration) time.Time {
	f.t.Helper()
	f.dropUDP(s)
	time.Sleep(d)
	f.clear()
	return time.Now()
}

// drop drops proto to or from ports (a port or first:last) between
// 127.0.0.1 and itself, where the pages and the server's listeners are.
func (f *netFault) drop(proto, ports string) {
	for _, dir := range []string{"--dport", "--sport"} {
		f.add("-s", "127.0.0.1", "-d", "127.0.0.1", "-p", proto, dir, ports, "-j", "DROP")
	}
}

// allow lets proto to or from port through whatever drop rules are in place
// now (-I puts it ahead of them).
func (f *netFault) allow(proto string, port int) {
	for _, dir := range []string{"--dport", "--sport"} {
		f.add("-s", "127.0.0.1", "-d", "127.0.0.1", "-p", proto, dir, fmt.Sprint(port), "-j", "ACCEPT")
	}
}

// onlyTCPTo drops all UDP and TCP between the pages and the server's port
// block but TCP to port (a TURN/TLS port): a firewall that passes only
// HTTPS. Signalling (the server's HTTP port, outside the block) still flows.
func (f *netFault) onlyTCPTo(s *server, port int) {
	f.dropUDP(s)
	f.drop("tcp", portRange(s.rtcPort, rtcPortBlock))
	f.allow("tcp", port)
}

// cutTCP cuts every TCP connection clients on 127.0.0.1 hold to port (a
// server's HTTP port: the pages' WebSockets) and refuses their new ones with
// a reset until the fault is cleared: `ss -K` destroys the client sockets
// (SOCK_DESTROY; the server gets a reset), as a NAT that forgot the flow or
// a network change does. Clients on other loopback addresses (the test's
// own, see fromAddr) still get through.
func (f *netFault) cutTCP(port int) {
	f.t.Helper()
	f.add("-s", "127.0.0.1", "-p", "tcp", "--dport", fmt.Sprint(port), "-j", "REJECT", "--reject-with", "tcp-reset")
	out, err := exec.Command("ss", "-K", "dst", "127.0.0.1", "dport", "=", fmt.Sprintf(":%d", port)).CombinedOutput()
	require.NoError(f.t, err, "ss -K: %s", out)
}
