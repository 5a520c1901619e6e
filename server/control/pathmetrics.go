package control

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/wire"
)

// pathNone labels peers whose media has not connected yet (no path).
const pathNone = "none"

// dPeerPaths is not made with desc: workerCollector describes every desc
// made there, and one desc described by two collectors fails registration.
var dPeerPaths = prometheus.NewDesc("voicectl_server_peer_paths",
	"Peers joined on this server by the path their media takes (udp, tcp, turn/udp, turn/tcp, turn/tls, turn; none until connected).",
	[]string{"path"}, nil)

// pathCounter counts peers by path (roomhost.Host.PathCounts).
type pathCounter interface {
	PathCounts() map[string]int
}

// pathCollector exports peers by media path at scrape time. The label is
// bounded: wire.PeerPaths and none, each exported from the start at 0.
type pathCollector struct{ host pathCounter }

func (pc pathCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dPeerPaths }

func (pc pathCollector) Collect(ch chan<- prometheus.Metric) {
	counts := pc.host.PathCounts()
	for _, path := range wire.PeerPaths {
		ch <- prometheus.MustNewConstMetric(dPeerPaths, prometheus.GaugeValue, float64(counts[path]), path)
	}
	ch <- prometheus.MustNewConstMetric(dPeerPaths, prometheus.GaugeValue, float64(counts[""]), pathNone)
}
