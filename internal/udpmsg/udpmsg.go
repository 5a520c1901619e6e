// Package udpmsg holds the Linux structures that batched UDP system calls
// (sendmmsg(2), recvmmsg(2)) take, for the worker's write path and the load
// generator's paced reads.
package udpmsg

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Mmsghdr is struct mmsghdr of sendmmsg(2) and recvmmsg(2).
type Mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
	_   [4]byte
}

// Inet4 is dst as a sockaddr_in.
func Inet4(dst netip.AddrPort) unix.RawSockaddrInet4 {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().Unmap().As4()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(dst.Port()>>8), byte(dst.Port())
	return sa
}

// AddrPort reads a sockaddr; anything but IPv4 gives the zero AddrPort.
func AddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	if sa.Addr.Family != unix.AF_INET {
		return netip.AddrPort{}
	}
	return AddrPort4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)))
}

// AddrPort4 reads an IPv4 sockaddr (the inverse of Inet4).
func AddrPort4(in *unix.RawSockaddrInet4) netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&in.Port))
	return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(p[0])<<8|uint16(p[1]))
}

// SendTo is one sendto(2) of b to sa as a raw system call (the caller's fd is
// non-blocking or flags hold MSG_DONTWAIT, so it cannot block the thread).
func SendTo(fd uintptr, b []byte, sa *unix.RawSockaddrInet4, flags int) (int, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(flags),
		uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
