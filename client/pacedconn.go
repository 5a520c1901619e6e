package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
)

const (
	batchSize = 32 // datagrams per recvmmsg once connected (drainer)
	// setupBatch is the reader's own batch before then: ICE and DTLS only.
	setupBatch = 8
	// pollWait bounds one wait for a datagram before the peer is connected, so a
	// close or a read deadline is noticed.
	pollWait = 20 // milliseconds
	// queueLen is how many datagrams wait for the reader once connected; more
	// are dropped, as a full socket buffer would drop them.
	queueLen = 256
)

// pacedConn is a load generator's UDP socket. It stays out of the Go runtime's
// netpoller: a socket registered there makes the kernel run the epoll callback
// for every datagram that arrives, and a paced reader would be woken (or its
// netpoller thread would) packet after packet. On loopback the sender pays for
// that wake-up — the worker's CPU per forwarded packet would include a cost no
// listener across a network puts on it.
//
// Until the peer connection is up, a read waits in poll(2) (ICE and DTLS at
// full speed); from then on a drainer shared with the process's other paced
// sockets empties the socket every pace and queues for the reader what is not
// RTP or what the tap keeps, so control packets wait at most pace. RTP headers
// go to the tap before anything reaches pion.
type pacedConn struct {
	laddr     *net.UDPAddr
	tap       RTPTap
	pace      time.Duration
	connected *atomic.Bool
	stamped   bool // the kernel timestamps datagrams (SO_TIMESTAMPNS)
	// imp, when set, impairs the media both ways once connected (impair.go).
	imp *socketImpair

	mu     sync.Mutex // guards fd's lifetime: closed with its last user
	fd     int
	users  int
	closed bool
	done   chan struct{} // closed by Close

	readDeadline atomic.Int64  // unix nanoseconds, 0 for none
	deadlineSet  chan struct{} // wakes a read waiting on the queue

	// Read state: ReadFrom has one caller, the ICE candidate's read loop. It
	// reads the socket itself until connected, then hands it to a drainer and
	// takes datagrams from queue.
	rb         *readBatch
	next, have int
	pfd        [1]unix.PollFd
	handedOver bool
	queue      chan queued
	lastFrom   netip.AddrPort
	lastAddr   *net.UDPAddr
}

// queued is a datagram the drainer read for the reader, or the error it met.
type queued struct {
	b    []byte
	from netip.AddrPort
	err  error
}

func listenPaced(laddr *net.UDPAddr, tap RTPTap, pace time.Duration, connected *atomic.Bool) (*pacedConn, error) {
	var ip [4]byte
	port := 0
	if laddr != nil {
		if v4 := laddr.IP.To4(); v4 != nil {
			ip = [4]byte(v4)
		}
		port = laddr.Port
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ip, Port: port}); err != nil {
		_ = unix.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: "udp4", Addr: laddr, Err: os.NewSyscallError("bind", err)}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	in, _ := sa.(*unix.SockaddrInet4)
	if in == nil {
		_ = unix.Close(fd)
		return nil, errors.New("paced socket: not an IPv4 address")
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	c := &pacedConn{
		laddr: &net.UDPAddr{IP: net.IP(in.Addr[:]), Port: in.Port},
		tap:   tap, pace: pace, connected: connected, fd: fd,
		stamped:     unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil,
		done:        make(chan struct{}),
		deadlineSet: make(chan struct{}, 1),
		rb:          newReadBatch(setupBatch),
	}
	c.pfd[0].Events = unix.POLLIN
	return c, nil
}

// acquire pins the descriptor for one system call; false once closed.
func (c *pacedConn) acquire() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return -1, false
	}
	c.users++
	return c.fd, true
}

func (c *pacedConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users--
	if c.closed && c.users == 0 && c.fd >= 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
	}
}

// Close closes the socket; a read in progress returns net.ErrClosed within pollWait.
func (c *pacedConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.closed = true
	close(c.done)
	if c.imp != nil {
		c.imp.close()
	}
	if c.users == 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
	}
	return nil
}

func (c *pacedConn) LocalAddr() net.Addr  { return c.laddr }
func (c *pacedConn) RemoteAddr() net.Addr { return nil }

func (c *pacedConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *pacedConn) SetWriteDeadline(time.Time) error { return nil } // writes never block
func (c *pacedConn) SetReadDeadline(t time.Time) error {
	c.readDeadline.Store(unixNano(t))
	select {
	case c.deadlineSet <- struct{}{}:
	default:
	}
	return nil
}

func (c *pacedConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (c *pacedConn) SetReadBuffer(n int) error  { return c.setsockopt(unix.SO_RCVBUF, n) }
func (c *pacedConn) SetWriteBuffer(n int) error { return c.setsockopt(unix.SO_SNDBUF, n) }

func (c *pacedConn) setsockopt(opt, v int) error {
	fd, ok := c.acquire()
	if !ok {
		return net.ErrClosed
	}
	defer c.release()
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, v))
}

func (c *pacedConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFrom(b)
	return n, err
}

func (c *pacedConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFrom(b)
	ua, _ := addr.(*net.UDPAddr)
	return n, ua, err
}

// ReadMsgUDP reads a datagram; the paced socket hands out no control messages.
func (c *pacedConn) ReadMsgUDP(b, _ []byte) (int, int, int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFromUDP(b)
	return n, 0, 0, addr, err
}

// ReadFrom returns the next datagram the tap keeps.
func (c *pacedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if c.next >= c.have {
			if c.handedOver {
				return c.readQueued(p)
			}
			if c.paced() {
				c.handedOver = true
				c.queue = make(chan queued, queueLen)
				drainerFor(c.pace).add(c)
				continue
			}
			if err := c.fill(); err != nil {
				return 0, nil, err
			}
			continue
		}
		i := c.next
		c.next++
		if c.tapKeeps(c.rb, i) {
			return copy(p, c.rb.data(i)), c.from(c.rb.from(i)), nil
		}
	}
}

// paced reports whether reads are now the drainer's.
func (c *pacedConn) paced() bool {
	return c.pace > 0 && c.connected != nil && c.connected.Load()
}

// tapKeeps shows datagram i of rb to the tap if it is RTP, and reports whether
// the reader gets it: everything else, and the RTP the tap keeps.
func (c *pacedConn) tapKeeps(rb *readBatch, i int) bool {
	b := rb.data(i)
	var delay time.Duration
	if c.impairs() {
		drop, d := c.imp.received(b)
		if drop {
			return false
		}
		delay = d
	}
	if !isRTP(b) || c.tap == nil {
		return true
	}
	seq := binary.BigEndian.Uint16(b[2:4])
	ts := binary.BigEndian.Uint32(b[4:8])
	ssrc := binary.BigEndian.Uint32(b[8:12])
	at, ok := time.Time{}, false
	if c.stamped {
		at, ok = rb.arrival(i)
	}
	if !ok {
		at = time.Now()
	}
	return c.tap(ssrc, seq, ts, len(b), at.Add(delay))
}

// enqueue passes q to the reader, or drops it when the reader is that far behind.
func (c *pacedConn) enqueue(q queued) {
	select {
	case c.queue <- q:
	default:
	}
}

// readQueued waits for the next datagram the drainer queued.
func (c *pacedConn) readQueued(p []byte) (int, net.Addr, error) {
	for {
		var deadline *time.Timer
		var expired <-chan time.Time
		if d := c.readDeadline.Load(); d != 0 {
			wait := time.Until(time.Unix(0, d))
			if wait <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			deadline = time.NewTimer(wait)
			expired = deadline.C
		}
		var q queued
		var err error
		newDeadline := false
		select {
		case q = <-c.queue:
			err = q.err
		case <-c.done:
			err = net.ErrClosed
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-c.deadlineSet:
			newDeadline = true
		}
		if deadline != nil {
			deadline.Stop()
		}
		if newDeadline {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		return copy(p, q.b), c.from(q.from), nil
	}
}

// from is a datagram's source address, reused while it stays the same (a peer
// hears one worker address) so reads do not allocate one per datagram.
func (c *pacedConn) from(ap netip.AddrPort) net.Addr {
	if ap != c.lastFrom || c.lastAddr == nil {
		c.lastFrom, c.lastAddr = ap, net.UDPAddrFromAddrPort(ap)
	}
	return c.lastAddr
}

// fill reads the next batch as soon as a datagram is there, or returns an
// empty one when the peer has connected meanwhile (the drainer reads from then).
func (c *pacedConn) fill() error {
	c.next, c.have = 0, 0
	for {
		if d := c.readDeadline.Load(); d != 0 && time.Now().UnixNano() >= d {
			return os.ErrDeadlineExceeded
		}
		if c.paced() {
			return nil
		}
		fd, ok := c.acquire()
		if !ok {
			return net.ErrClosed
		}
		c.pfd[0].Fd, c.pfd[0].Revents = int32(fd), 0
		if _, err := unix.Poll(c.pfd[:], pollWait); err != nil && err != unix.EINTR {
			c.release()
			return os.NewSyscallError("poll", err)
		}
		n, err := c.rb.recv(fd)
		c.release()
		switch {
		case temporary(err):
			continue
		case err != 0:
			return c.readError(err)
		}
		c.have = n
		return nil
	}
}

// temporary reports whether a recvmmsg error only means nothing was there.
func temporary(err unix.Errno) bool { return err == unix.EAGAIN || err == unix.EINTR }

func (c *pacedConn) readError(err unix.Errno) error {
	return &net.OpError{Op: "read", Net: "udp4", Addr: c.laddr, Err: os.NewSyscallError("recvmmsg", err)}
}

func (c *pacedConn) Write([]byte) (int, error) {
	return 0, &net.OpError{Op: "write", Net: "udp4", Addr: c.laddr, Err: syscall.EDESTADDRREQ}
}

func (c *pacedConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) { return c.WriteTo(b, addr) }

func (c *pacedConn) WriteMsgUDP(b, _ []byte, addr *net.UDPAddr) (int, int, error) {
	n, err := c.WriteTo(b, addr)
	return n, 0, err
}

// WriteTo sends one datagram without blocking: a full send buffer drops it, as
// a congested network would.
func (c *pacedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.IP.To4() == nil {
		return 0, &net.OpError{Op: "write", Net: "udp4", Addr: addr, Err: fmt.Errorf("not an IPv4 UDP address: %v", addr)}
	}
	if len(b) == 0 {
		return 0, nil
	}
	sa := udpmsg.Inet4(ua.AddrPort())
	if c.impairs() && c.imp.sent(b, sa, c.sendLater) {
		return len(b), nil
	}
	fd, live := c.acquire()
	if !live {
		return 0, net.ErrClosed
	}
	n, e := udpmsg.SendTo(uintptr(fd), b, &sa, unix.MSG_DONTWAIT)
	c.release()
	if e != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp4", Addr: addr, Err: os.NewSyscallError("sendto", e)}
	}
	return n, nil
}

// impairs reports whether the socket's media is impaired now: from the
// moment the peer connection is up.
func (c *pacedConn) impairs() bool {
	return c.imp != nil && c.connected != nil && c.connected.Load()
}

// sendLater sends a datagram the impairment delayed; errors are a network's
// losses.
func (c *pacedConn) sendLater(b []byte, sa *unix.RawSockaddrInet4) {
	fd, live := c.acquire()
	if !live {
		return
	}
	_, _ = udpmsg.SendTo(uintptr(fd), b, sa, unix.MSG_DONTWAIT)
	c.release()
}
