package client

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// RTPTap sees every RTP packet as it arrives, before decryption (SRTP leaves the
// header in clear, RFC 3711 §3.1). It returns false to drop the packet, so pion
// never decrypts it: a load generator counts from headers and lets through only
// the packets it needs to read.
// arrival is the kernel's receive time (SO_TIMESTAMPNS), so it stays exact when
// reads are paced.
type RTPTap func(ssrc uint32, seq uint16, timestamp uint32, size int, arrival time.Time) (keep bool)

// tapNet is a pion network whose IPv4 UDP sockets are pacedConns that show RTP
// headers to a tap.
type tapNet struct {
	*stdnet.Net
	tap  RTPTap
	pace time.Duration
	// connected is set once the peer connection is up: reads are paced only
	// then, so ICE and the DTLS handshake run at full speed.
	connected atomic.Bool
	// imp, when set, impairs every socket's media (impair.go).
	imp *impairing
}

func newTapNet(tap RTPTap, pace time.Duration) (*tapNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &tapNet{Net: n, tap: tap, pace: pace}, nil
}

// ListenUDP opens a paced socket for udp4; other networks get an ordinary one
// (voicectl workers offer IPv4 candidates only, so no media arrives there).
func (n *tapNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	if network != "udp4" && (network != "udp" || laddr == nil || laddr.IP.To4() == nil) {
		return n.Net.ListenUDP(network, laddr)
	}
	c, err := listenPaced(laddr, n.tap, n.pace, &n.connected)
	if err == nil && n.imp != nil {
		c.imp = n.imp.socket()
	}
	return c, err
}

// kernelTime reads the SO_TIMESTAMPNS control message of a datagram, walking
// the cmsg headers in place (syscall.ParseSocketControlMessage would allocate
// for every datagram).
func kernelTime(oob []byte) (time.Time, bool) {
	for len(oob) >= syscall.CmsgLen(0) {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < uint64(syscall.CmsgLen(0)) || h.Len > uint64(len(oob)) {
			return time.Time{}, false
		}
		data := oob[syscall.CmsgLen(0):h.Len]
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && len(data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(data[8:16]))
			return time.Unix(sec, nsec), true
		}
		next := syscall.CmsgSpace(int(h.Len) - syscall.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
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
