package loadgen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

func TestTransportHoldsOnlyTheListeners(t *testing.T) {
	sc := DefaultScenario()
	sc.Transport = client.TransportTURNUDP
	require.Equal(t, client.TransportTURNUDP, sc.peerConfig(false, nil).Transport)
	require.Equal(t, client.Transport(""), sc.peerConfig(true, nil).Transport, "publishers keep the default path")
}

func TestScenarioTransportIsChecked(t *testing.T) {
	sc := DefaultScenario()
	sc.Secret = "0123456789abcdef"
	require.NoError(t, sc.Validate())
	require.NoError(t, ParseScenario([]byte("transport: tcp\n"), &sc))
	require.Equal(t, client.TransportTCP, sc.Transport)
	require.NoError(t, sc.Validate())
	sc.Transport = "udp6"
	require.ErrorContains(t, sc.Validate(), `transport "udp6"`)
}

func TestListenerPathsCountListenersByTheServersPath(t *testing.T) {
	mk := func(id string, publish bool) *peer {
		return &peer{publish: publish, c: &client.Client{Joined: &wire.Joined{PeerID: id}}}
	}
	peers := []*peer{mk("PA_pub", true), mk("PA_1", false), mk("PA_2", false), mk("PA_3", false), mk("PA_gone", false)}
	got := listenerPaths(peers, map[string]string{"PA_pub": "udp", "PA_1": "tcp", "PA_2": "tcp", "PA_3": ""})
	require.Equal(t, map[string]int{"tcp": 2, "none": 1}, got, "publishers and peers the API did not list are left out")
	require.Nil(t, listenerPaths(peers, map[string]string{}), "no admin API: no counts")
}
