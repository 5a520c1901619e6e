package worker

import (
	"net"
	"net/netip"
	"os"
	"sync"
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
	raw     syscall.RawConn
	send    *sendSocket    // closed with the socket, nil if none
	consent *consentKeeper // nil: pion handles all STUN
	ingress *ingressTable  // nil: pion takes all RTP

	// The mux has one reader; its system call's arguments and results live
	// here so that a read allocates nothing (a closure's captures would).
	rmu   sync.Mutex
	rbuf  []byte
	rn    uintptr
	rerr  syscall.Errno
	rfrom unix.RawSockaddrAny
	rfn   func(fd uintptr) bool
}

func newRawConn(uc *net.UDPConn, raw syscall.RawConn, send *sendSocket, consent *consentKeeper, ingress *ingressTable) *rawConn {
	c := &rawConn{UDPConn: uc, raw: raw, send: send, consent: consent, ingress: ingress}
	c.rfn = c.recvfrom
	return c
}

// Close closes the socket and its send socket.
func (c *rawConn) Close() error {
	if c.send != nil {
		c.send.close()
	}
	return c.UDPConn.Close()
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter. Publishers' RTP (see
// ingressTable), consent checks of connected peers and the answers to the
// worker's own (see consentKeeper) are handled on the way.
func (c *rawConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := c.read(b)
		if err != nil {
			return n, from, err
		}
		if c.ingress != nil && c.ingress.take(b[:n], from) {
			continue
		}
		if c.consent == nil {
			return n, from, nil
		}
		if n, deliver := c.consent.handle(b, n, from, c.WriteToAddrPort); deliver {
			return n, from, nil
		}
	}
}

func (c *rawConn) read(b []byte) (int, netip.AddrPort, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf = b
	err := c.raw.Read(c.rfn)
	c.rbuf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if c.rerr != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", c.rerr)}
	}
	return int(c.rn), udpmsg.AddrPort(&c.rfrom), nil
}

func (c *rawConn) recvfrom(fd uintptr) bool {
	fromLen := uint32(unix.SizeofSockaddrAny)
	var p unsafe.Pointer
	if len(c.rbuf) > 0 {
		p = unsafe.Pointer(&c.rbuf[0])
	}
	c.rn, _, c.rerr = unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(c.rbuf)), 0,
		uintptr(unsafe.Pointer(&c.rfrom)), uintptr(unsafe.Pointer(&fromLen)))
	return c.rerr != unix.EAGAIN
}

// rawWrite is one write's system call state; writers come from many
// goroutines (ICE, DTLS, RTCP), so they take one from a pool.
type rawWrite struct {
	b     []byte
	sa    unix.RawSockaddrInet4
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

var rawWrites = sync.Pool{New: func() any {
	w := &rawWrite{}
	w.fn = w.sendto
	return w
}}

func (w *rawWrite) sendto(fd uintptr) bool {
	w.n, w.errno = udpmsg.SendTo(fd, w.b, &w.sa, 0)
	return w.errno != unix.EAGAIN
}

// WriteToAddrPort implements ice.AddrPortReaderWriter.
func (c *rawConn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if !to.Addr().Unmap().Is4() || len(b) == 0 {
		return c.WriteToUDPAddrPort(b, to)
	}
	return writeRaw(c.raw, c.send, b, to)
}

// writeRaw sends b to the IPv4 address to with a raw sendto: on the send socket
// when there is one and it has room, else on raw's socket, waiting in the
// netpoller only if that is full.
//
// Why the send socket first: it is not in epoll. Every datagram sent from the
// netpoller's socket frees write space when the kernel has passed it on, and
// the kernel tells epoll so (sock_wfree → ep_poll_callback), which queues a
// write event the runtime then reads and discards — for each consent answer,
// consent check and RTCP report, a few hundred a second on a busy worker.
func writeRaw(raw syscall.RawConn, send *sendSocket, b []byte, to netip.AddrPort) (int, error) {
	w := rawWrites.Get().(*rawWrite)
	defer rawWrites.Put(w)
	w.b, w.sa = b, udpmsg.Inet4(to)
	defer func() { w.b = nil }()
	if send != nil {
		w.n, w.errno = send.sendtoNow(w.b, &w.sa)
		if w.errno != unix.EAGAIN && w.errno != unix.EBADF {
			return w.result(to)
		}
	}
	if err := raw.Write(w.fn); err != nil {
		return 0, err
	}
	return w.result(to)
}

func (w *rawWrite) result(to netip.AddrPort) (int, error) {
	if w.errno != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", w.errno)}
	}
	return w.n, nil
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
