package worker

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/server/testenv"
)

// TestRawConnReadsAndWrites: the ICE mux's view of a worker socket sends and
// receives through raw system calls and reports the peer's address.
func TestRawConnReadsAndWrites(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	sockets, rc := listenLoopback(t)
	require.NotNil(t, sockets.socketFor(netip.MustParseAddr("127.0.0.1")))

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peer.Close()
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()

	n, err := rc.WriteToAddrPort([]byte("ping"), peerAddr)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	buf := make([]byte, 16)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf[:n]))
	require.Equal(t, rc.LocalAddr().(*net.UDPAddr).AddrPort(), from)

	_, err = peer.WriteToUDPAddrPort([]byte("pong!"), from)
	require.NoError(t, err)
	n, got, err := rc.ReadFromAddrPort(buf)
	require.NoError(t, err)
	require.Equal(t, "pong!", string(buf[:n]))
	require.Equal(t, peerAddr, got)

	// A write the kernel refuses is an error, not a silent success.
	_, err = rc.WriteToAddrPort([]byte("x"), netip.MustParseAddrPort("127.0.0.1:0"))
	require.Error(t, err)

	require.NoError(t, rc.Close())
	_, _, err = rc.ReadFromAddrPort(buf)
	require.Error(t, err, "reads end when the socket closes")
}

// listenLoopback opens a worker socket on 127.0.0.1 (any port), closed when
// the test ends.
func listenLoopback(t *testing.T) (*mediaSockets, *rawConn) {
	t.Helper()
	sockets, err := newMediaSockets()
	require.NoError(t, err)
	c, err := sockets.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	rc, ok := c.(*rawConn)
	require.True(t, ok, "worker sockets are raw conns")
	return sockets, rc
}

// TestRawConnWritesLeaveByTheSendSocket: the worker's own datagrams (consent,
// RTCP, pion's STUN and DTLS) leave by the send socket, which is not in epoll,
// and by the media socket once the send socket is gone. Which socket sent a
// datagram shows in its IPv4 TOS, set differently on each here.
func TestRawConnWritesLeaveByTheSendSocket(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	_, rc := listenLoopback(t)
	require.NotNil(t, rc.send)
	const viaSend = 0x20
	require.NoError(t, unix.SetsockoptInt(rc.send.fd, unix.IPPROTO_IP, unix.IP_TOS, viaSend))

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peer.Close()
	praw, err := peer.SyscallConn()
	require.NoError(t, err)
	require.NoError(t, praw.Control(func(fd uintptr) {
		require.NoError(t, unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1))
	}))
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	tosOfNext := func(payload string) byte {
		t.Helper()
		_, err := rc.WriteToAddrPort([]byte(payload), to)
		require.NoError(t, err)
		buf, oob := make([]byte, 16), make([]byte, 64)
		n, oobn, _, from, err := peer.ReadMsgUDPAddrPort(buf, oob)
		require.NoError(t, err)
		require.Equal(t, payload, string(buf[:n]))
		require.Equal(t, rc.LocalAddr().(*net.UDPAddr).AddrPort(), from, "the media socket's address either way")
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		require.NoError(t, err)
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS {
				return m.Data[0]
			}
		}
		require.Fail(t, "no TOS received")
		return 0
	}
	require.EqualValues(t, viaSend, tosOfNext("one"))
	rc.send.close()
	require.Zero(t, tosOfNext("two"), "the media socket takes over")
}
