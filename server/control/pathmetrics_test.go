package control

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

type fixedPaths map[string]int

func (f fixedPaths) PathCounts() map[string]int { return f }

func gatherPaths(t *testing.T, counts fixedPaths) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(pathCollector{host: counts})
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	require.Equal(t, "voicectl_server_peer_paths", mfs[0].GetName())
	out := map[string]float64{}
	for _, m := range mfs[0].GetMetric() {
		require.Len(t, m.GetLabel(), 1)
		require.Equal(t, "path", m.GetLabel()[0].GetName())
		out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	return out
}

func TestPeerPathsGaugeHasEveryPathFromTheStart(t *testing.T) {
	got := gatherPaths(t, fixedPaths{})
	want := map[string]float64{"none": 0}
	for _, p := range wire.PeerPaths {
		want[p] = 0
	}
	require.Equal(t, want, got)
	require.Contains(t, got, "turn/tls")

	got = gatherPaths(t, fixedPaths{"": 2, wire.PathUDP: 5, wire.PathTCP: 1, wire.PathTURNTLS: 3})
	require.Equal(t, 2.0, got["none"], "peers not connected yet")
	require.Equal(t, 5.0, got["udp"])
	require.Equal(t, 1.0, got["tcp"])
	require.Equal(t, 3.0, got["turn/tls"])
	require.Zero(t, got["turn/udp"])
}

// The collector registers beside workerCollector on one registry (their
// descriptors must not clash).
func TestPeerPathsRegistersBesideTheWorkerCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(workerCollector{})
	require.NoError(t, reg.Register(pathCollector{host: fixedPaths{}}))
}
