package client

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"golang.org/x/net/ipv4"
)

// RTPTap sees every RTP packet as it arrives, before decryption (SRTP leaves the
// header in clear, RFC 3711 §3.1). It returns false to drop the packet, so pion
// never decrypts it: a load generator counts from headers and lets through only
// the packets it needs to read.
// arrival is the kernel's receive time (SO_TIMESTAMPNS), so it stays exact when
// reads are paced.
type RTPTap func(ssrc uint32, seq uint16, timestamp uint32, size int, arrival time.Time) (keep bool)

// tapNet is a pion network whose UDP sockets read in batches (recvmmsg) and show
// RTP headers to a tap.
type tapNet struct {
	*stdnet.Net
	tap  RTPTap
	pace time.Duration
	// connected is set once the peer connection is up: reads are paced only
	// then, so ICE and the DTLS handshake run at full speed.
	connected atomic.Bool
}

func newTapNet(tap RTPTap, pace time.Duration) (*tapNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &tapNet{Net: n, tap: tap, pace: pace}, nil
}

func (n *tapNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return c, nil
	}
	_ = uc.SetReadBuffer(4 << 20)
	t := &tapConn{UDPConn: c, pc: ipv4.NewPacketConn(uc), tap: n.tap, pace: n.pace, connected: &n.connected}
	if raw, err := uc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			t.stamped = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) == nil
		})
	}
	t.msgs = make([]ipv4.Message, batchSize)
	for i := range t.msgs {
		t.msgs[i].Buffers = [][]byte{make([]byte, 1500)}
		t.msgs[i].OOB = make([]byte, 64)
	}
	return t, nil
}

const batchSize = 32

// tapConn serves ReadFrom from batches read with one recvmmsg each. Only the
// agent's single read goroutine calls ReadFrom, so the batch state needs no lock.
type tapConn struct {
	transport.UDPConn
	pc         *ipv4.PacketConn
	tap        RTPTap
	pace       time.Duration // pause between reads, so each read takes a batch
	stamped    bool          // the kernel timestamps datagrams
	msgs       []ipv4.Message
	next, have int
	mediaSeen  bool // the last batch held RTP
	connected  *atomic.Bool
}

// kernelTime reads the SO_TIMESTAMPNS control message of a datagram.
func kernelTime(oob []byte) (time.Time, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

// isRTP tells RTP from RTCP, STUN and DTLS sharing the port (RFC 5761 §4, RFC 7983).
func isRTP(b []byte) bool {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 {
		return false
	}
	return b[1] < 192 || b[1] > 223
}

func (c *tapConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if c.next >= c.have {
			// Pace only once connected and while media flows: ICE checks and the
			// DTLS handshake go at full speed (pacing them made joins time out).
			if c.pace > 0 && c.mediaSeen && c.have < batchSize && c.connected.Load() {
				time.Sleep(c.pace)
			}
			n, err := c.pc.ReadBatch(c.msgs, 0)
			if err != nil {
				return 0, nil, err
			}
			c.next, c.have, c.mediaSeen = 0, n, false
		}
		m := &c.msgs[c.next]
		c.next++
		b := m.Buffers[0][:m.N]
		media := isRTP(b)
		c.mediaSeen = c.mediaSeen || media
		if media && c.tap != nil {
			seq := binary.BigEndian.Uint16(b[2:4])
			ts := binary.BigEndian.Uint32(b[4:8])
			ssrc := binary.BigEndian.Uint32(b[8:12])
			at, ok := time.Time{}, false
			if c.stamped {
				at, ok = kernelTime(m.OOB[:m.NN])
			}
			if !ok {
				at = time.Now()
			}
			if !c.tap(ssrc, seq, ts, len(b), at) {
				continue
			}
		}
		return copy(p, b), m.Addr, nil
	}
}
