package turnserver

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// turn.udp_port 0 gets a port free for both UDP and TCP, many times over
// beside the namespace's other sockets; a set port whose TCP side is taken
// is refused, saying which.
func TestUDPAndTCPListenOnOnePort(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	for range 50 {
		udp, tcp, err := listenUDPAndTCP("127.0.0.1", 0)
		require.NoError(t, err)
		require.Equal(t, udp.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port)
		require.NoError(t, udp.Close())
		require.NoError(t, tcp.Close())
	}

	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	_, _, err = listenUDPAndTCP("127.0.0.1", port)
	require.ErrorContains(t, err, "turn: listen tcp")
	require.ErrorContains(t, err, strconv.Itoa(port))
}
