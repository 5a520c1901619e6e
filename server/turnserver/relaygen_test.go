package turnserver

import (
	"net"
	"strconv"
	"testing"

	"github.com/pion/turn/v5"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// A range with one free port left: every allocation gets it, where pion's
// ten random tries alone would miss it one time in four; with none left,
// the refusal names the range.
func TestRelayPortsAreScannedWhenTheRandomTriesMiss(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	const first, last = 31300, 31307
	free := first + 5
	for p := first; p <= last; p++ {
		if p == free {
			continue
		}
		held, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = held.Close() })
	}
	g := &relayGen{ports: &turn.RelayAddressGeneratorPortRange{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
		MinPort: first, MaxPort: last}}
	require.NoError(t, g.Validate())

	for range 40 {
		conn, addr, err := g.bind(turn.AllocateListenerConfig{Network: "udp4"})
		require.NoError(t, err)
		require.Equal(t, free, addr.(*net.UDPAddr).Port)
		require.NoError(t, conn.Close())
	}

	last8, _, err := g.bind(turn.AllocateListenerConfig{Network: "udp4"})
	require.NoError(t, err)
	defer last8.Close()
	_, _, err = g.bind(turn.AllocateListenerConfig{Network: "udp4"})
	require.ErrorContains(t, err, "every port of 31300-31307 is taken")
}
