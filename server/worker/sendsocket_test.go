package worker

import (
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
	"github.com/voicectl/voicectl/server/testenv"
)

// TestSendSocketSharesThePortAndTakesNoInput: a media socket gets a send socket
// on its own address and port; everything peers send still reaches the media
// socket (without the steering program the group would hand about half of it to
// the send socket, where nobody reads), and what the send socket sends comes
// from the media socket's address.
func TestSendSocketSharesThePortAndTakesNoInput(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	sockets, rc := listenLoopback(t)
	require.NotNil(t, rc.send, "send socket: %v", sockets.sendSocketErrors())
	require.Empty(t, sockets.sendSocketErrors())

	// Peers on many source ports: the group's hash would spread them.
	const peers, each = 32, 4
	for range peers {
		p, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		for range each {
			_, err = p.WriteTo([]byte("stun"), rc.LocalAddr())
			require.NoError(t, err)
		}
		require.NoError(t, p.Close())
	}
	buf := make([]byte, 64)
	require.NoError(t, rc.SetReadDeadline(time.Now().Add(2*time.Second)))
	for i := range peers * each {
		_, _, err := rc.ReadFromAddrPort(buf)
		require.NoError(t, err, "datagram %d of %d", i+1, peers*each)
	}

	listener, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer listener.Close()
	payload := []byte("srtp")
	dst := udpmsg.Inet4(listener.LocalAddr().(*net.UDPAddr).AddrPort())
	iov := unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	hdrs := []udpmsg.Mmsghdr{{Hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&dst)), Namelen: unix.SizeofSockaddrInet4, Iov: &iov, Iovlen: 1}}}
	// A raw socket sees the IPv4 headers of what is sent.
	ipHeaders, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP)
	require.NoError(t, err)
	defer unix.Close(ipHeaders)
	require.NoError(t, unix.SetsockoptTimeval(ipHeaders, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}))
	for _, send := range []func([]udpmsg.Mmsghdr) (int, syscall.Errno){rc.send.sendmmsg, rc.send.sendmmsgNow} {
		n, errno := send(hdrs)
		require.Zero(t, errno)
		require.Equal(t, 1, n)
		require.NoError(t, listener.SetReadDeadline(time.Now().Add(2*time.Second)))
		got, from, err := listener.ReadFromUDP(buf)
		require.NoError(t, err)
		require.Equal(t, "srtp", string(buf[:got]))
		require.Equal(t, rc.LocalAddr().String(), from.String(), "listeners see one address")

		pkt := make([]byte, 128)
		for {
			n, _, err := unix.Recvfrom(ipHeaders, pkt, 0)
			require.NoError(t, err, "the raw socket sees the packet")
			ihl := int(pkt[0]&0x0f) * 4
			if n >= ihl+8 && int(binary.BigEndian.Uint16(pkt[ihl+2:])) == listener.LocalAddr().(*net.UDPAddr).Port {
				require.Equal(t, uint16(0x4000), binary.BigEndian.Uint16(pkt[6:8]), "DF set, not a fragment")
				require.Zero(t, binary.BigEndian.Uint16(pkt[4:6]), "no identification drawn (RFC 6864 §4.1)")
				break
			}
		}
	}

	require.NoError(t, rc.Close())
	_, errno := rc.send.sendmmsg(hdrs)
	require.Equal(t, unix.EBADF, errno, "closed with the media socket")
	_, errno = rc.send.sendmmsgNow(hdrs)
	require.Equal(t, unix.EBADF, errno)
}

// TestMediaPortStillRefusesASecondServer: SO_REUSEPORT must not let another
// worker (or a second server run by mistake) bind a port that is taken.
func TestMediaPortStillRefusesASecondServer(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	_, c := listenLoopback(t)
	port := c.LocalAddr().(*net.UDPAddr).Port

	second, err := newMediaSockets()
	require.NoError(t, err)
	_, err = second.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	require.ErrorIs(t, err, unix.EADDRINUSE)

	require.NoError(t, c.Close())
	again, err := second.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	require.NoError(t, err, "free again once the first closed")
	require.NotNil(t, again.(*rawConn).send)
	require.NoError(t, again.Close())
}
