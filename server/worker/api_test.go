package worker

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
)

func TestNetworkFilters(t *testing.T) {
	all := ipc.InitParams{Loopback: true}
	require.True(t, interfaceFilter(all)("eth0"), "no allow-list admits every interface")
	require.True(t, ipFilter(all)(net.ParseIP("127.0.0.1")))
	require.True(t, ipFilter(all)(net.ParseIP("192.0.2.10")))
	require.False(t, ipFilter(all)(net.ParseIP("2001:db8::1")), "candidates are IPv4")

	only := ipc.InitParams{Interfaces: []string{"lo", "eth1"}, Loopback: false}
	require.True(t, interfaceFilter(only)("eth1"))
	require.False(t, interfaceFilter(only)("eth0"))
	require.False(t, ipFilter(only)(net.ParseIP("127.0.0.1")), "rtc.loopback=false drops loopback")
	require.True(t, ipFilter(only)(net.ParseIP("198.51.100.7")))
}

func TestListenMuxRefusesWhenNothingIsAllowed(t *testing.T) {
	_, err := listenMux(ipc.InitParams{Port: 0, Interfaces: []string{"no-such-interface"}, Loopback: true})
	require.Error(t, err)
	require.Contains(t, err.Error(), "no interface address allowed")
}
