package turnserver

import (
	"net"
	"net/netip"
	"slices"
)

// Peers are the only addresses the relay sends to or takes packets from: the
// workers' media sockets (their IPs, their UDP ports). Everything else is
// refused, so the TURN server is no open relay (RFC 8656 §21.2.3, the
// abuse an open relay invites).
type Peers struct {
	// IPs are the addresses the workers' candidates carry (rtc.ips, the relay
	// IP, rtc.announced_ip).
	IPs []netip.Addr
	// MinPort and MaxPort bound the workers' UDP ports (rtc.port and up).
	MinPort, MaxPort uint16
}

// allowsIP is the check pion's PermissionHandler can make: it sees only the
// peer's IP, for CreatePermission and ChannelBind.
func (p Peers) allowsIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && slices.Contains(p.IPs, a.Unmap())
}

// allows checks an address and port, where the relay writes and reads.
func (p Peers) allows(ap netip.AddrPort) bool {
	return ap.Port() >= p.MinPort && ap.Port() <= p.MaxPort && slices.Contains(p.IPs, ap.Addr())
}

// addrPort reads a *net.UDPAddr without allocating; an IPv4 address comes
// out as one (net.IP keeps them in 16 bytes).
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := u.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
