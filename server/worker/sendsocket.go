package worker

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
)

// sendSocket is a second UDP socket on a media socket's address and port
// (SO_REUSEPORT), used by the forwarding path's sendmmsg and the worker's
// single datagrams (writeRaw). It is blocking and stays out of the Go
// netpoller, so a fan-out can be an ordinary system call: while the kernel
// delivers a long batch, the Go runtime hands the worker's one P to another
// thread and the control plane (ICE, DTLS, signalling) keeps running. On the
// netpoller's socket that hand-off cost more than it gave: the idle thread
// slept in epoll and was woken by every packet the kernel freed. Fan-outs that
// keep the P (sendmmsgNow, when no peer is connecting) and single datagrams
// (sendtoNow) use it too: outside epoll, the kernel has no poller to tell about
// the write space each sent packet frees, a wake-up that cost ~2% of a busy
// worker on the media socket (perf: sock_wfree).
//
// A reuseport group spreads incoming datagrams over its sockets; a classic BPF
// program that always answers 0 steers every one to the group's first socket,
// the one pion reads.
type sendSocket struct {
	mu sync.RWMutex // writers hold it across a send; close takes it alone
	fd int
}

// steerToFirst is the reuseport program: every datagram to socket 0.
var steerToFirst = func() []bpf.RawInstruction {
	prog, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		panic(err)
	}
	return prog
}()

// reusePort is the Control function that lets the media socket share its port.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}

// openSendSocket binds a send socket to laddr, which a media socket opened with
// reusePort holds, and steers the group's incoming datagrams to that socket.
func openSendSocket(laddr *net.UDPAddr) (*sendSocket, error) {
	ip4 := laddr.IP.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("send socket: %v is not IPv4", laddr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("send socket: %w", err)
	}
	fail := func(what string, err error) (*sendSocket, error) {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("send socket %s: %s: %w", laddr, what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("SO_REUSEPORT", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	if err := udpmsg.SetDontFragment(fd); err != nil {
		return fail("IP_MTU_DISCOVER", err)
	}
	filter := make([]unix.SockFilter, len(steerToFirst))
	for i, ins := range steerToFirst {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte(ip4), Port: laddr.Port}); err != nil {
		return fail("bind", err)
	}
	// Until the program is in place, the group may hand this socket a datagram
	// or two: only while the worker starts, before any peer knows the port.
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &prog); err != nil {
		return fail("SO_ATTACH_REUSEPORT_CBPF", err)
	}
	return &sendSocket{fd: fd}, nil
}

// sendmmsg writes hdrs with one ordinary (blocking) system call, during which
// the runtime's monitor may take the worker's P for the control plane; it
// reports how many left and the error of the first that did not.
func (s *sendSocket) sendmmsg(hdrs []udpmsg.Mmsghdr) (int, syscall.Errno) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return 0, unix.EBADF
	}
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// sendmmsgNow writes hdrs with one raw, non-blocking system call: the worker
// keeps its P. EAGAIN means the send buffer is full.
func (s *sendSocket) sendmmsgNow(hdrs []udpmsg.Mmsghdr) (int, syscall.Errno) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return 0, unix.EBADF
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// sendtoNow writes one datagram with a raw, non-blocking system call; EAGAIN
// means the send buffer is full, EBADF that the socket is closed.
func (s *sendSocket) sendtoNow(b []byte, sa *unix.RawSockaddrInet4) (int, syscall.Errno) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return 0, unix.EBADF
	}
	return udpmsg.SendTo(uintptr(s.fd), b, sa, unix.MSG_DONTWAIT)
}

func (s *sendSocket) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd >= 0 {
		_ = unix.Close(s.fd)
		s.fd = -1
	}
}
