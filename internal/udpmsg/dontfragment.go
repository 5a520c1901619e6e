package udpmsg

import "golang.org/x/sys/unix"

// SetDontFragment makes fd's datagrams go out with DF set and the IPv4
// identification field 0, which RFC 6864 §4.1 allows for datagrams that are
// never fragmented. Media packets are far below any MTU, and the kernel's
// default for unconnected UDP (IP_PMTUDISC_WANT, DF but fragmentable) instead
// draws an identification for every packet from a shared, hashed counter
// (__ip_select_ident: ~0.4% of a worker's CPU in a 2 × 200 fan-out).
// IP_PMTUDISC_PROBE rather than _DO: a learned path MTU is not enforced, so a
// stale one cannot fail a packet with EMSGSIZE in the middle of a sendmmsg.
func SetDontFragment(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
}
