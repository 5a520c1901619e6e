package worker

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
)

// rawConn is a worker socket as pion's ICE mux sees it: its reads and writes
// (RTP in, STUN, DTLS, RTCP) are raw system calls on the non-blocking socket,
// like the forwarding path's sendmmsg; they wait in the netpoller as usual when
// the socket is not ready.
//
// Why: every ordinary system call wakes the Go runtime's monitor thread out of
// its deep sleep and resets it to polling every 20 µs. A worker receives a few
// hundred datagrams a second, so the monitor never rested, and its polling cost
// about a tenth of a busy worker's CPU.
type rawConn struct {
	*net.UDPConn
	raw  syscall.RawConn
	send *sendSocket // closed with the socket, nil if none
}

// Close closes the socket and its send socket.
func (c *rawConn) Close() error {
	if c.send != nil {
		c.send.close()
	}
	return c.UDPConn.Close()
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *rawConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	var (
		n     uintptr
		errno syscall.Errno
		from  unix.RawSockaddrAny
	)
	err := c.raw.Read(func(fd uintptr) bool {
		fromLen := uint32(unix.SizeofSockaddrAny)
		var p unsafe.Pointer
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		n, _, errno = unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&fromLen)))
		return errno != unix.EAGAIN
	})
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if errno != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", errno)}
	}
	return int(n), udpmsg.AddrPort(&from), nil
}

// WriteToAddrPort implements ice.AddrPortReaderWriter.
func (c *rawConn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if !to.Addr().Unmap().Is4() || len(b) == 0 {
		return c.WriteToUDPAddrPort(b, to)
	}
	sa := udpmsg.Inet4(to)
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Write(func(fd uintptr) bool {
		n, errno = udpmsg.SendTo(fd, b, &sa, 0)
		return errno != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", errno)}
	}
	return n, nil
}

// ReadFrom implements net.PacketConn.
func (c *rawConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteTo implements net.PacketConn.
func (c *rawConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(b, addr)
}
