package worker

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

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
