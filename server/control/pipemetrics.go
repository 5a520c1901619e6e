package control

import (
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/supervisor"
)

// Pipes to other servers, per remote server: server ids are a small set,
// so they make a bounded label; rooms never are one.
var (
	remoteLabels     = []string{"remote_server"}
	dRemotePipes     = desc("cluster", "pipes", "Pipe ends on this server's workers that lead to another server.", remoteLabels)
	dRemoteProducers = desc("cluster", "piped_producers", "Producers crossing pipes between this server and another, both ways.", remoteLabels)
	dRemoteSentPkts  = desc("cluster", "pipe_sent_packets_total", "RTP packets sent through pipes to another server.", remoteLabels)
	dRemoteSentBytes = desc("cluster", "pipe_sent_bytes_total", "Bytes (SRTP included) sent through pipes to another server.", remoteLabels)
	dRemoteRecvPkts  = desc("cluster", "pipe_received_packets_total", "RTP packets received through pipes from another server.", remoteLabels)
	dRemoteRecvBytes = desc("cluster", "pipe_received_bytes_total", "Bytes received through pipes from another server.", remoteLabels)
	dRemoteRejected  = desc("cluster", "pipe_rejected_packets_total", "Packets from another server's pipes dropped: SRTP authentication failed, or not RTP.", remoteLabels)
	dRelayRooms      = desc("cluster", "relay_rooms", "Rooms other servers own that this server relays.", nil)
	dRelayPeers      = desc("cluster", "relay_peers", "Peers of other servers' rooms whose media is on this server.", nil)
)

// pipeTotals keeps the counters of pipes to other servers monotonic: a
// pipe that closes leaves its last counts in its server's total.
type pipeTotals struct {
	mu      sync.Mutex
	live    map[string]pipeSeen // by "worker/pipe id"
	retired map[cluster.ServerID]ipc.PipeStat
}

type pipeSeen struct {
	remote cluster.ServerID
	stat   ipc.PipeStat
}

func (pt *pipeTotals) collect(host *roomhost.Host, sup *supervisor.Supervisor, gauge, counter func(*prometheus.Desc, float64, ...string)) {
	remotes := host.PipeRemotes()
	now := map[string]pipeSeen{}
	for i := range sup.Len() {
		smp, ok := sup.LastSample(i)
		if !ok {
			continue
		}
		for _, st := range smp.Load.PipeStats {
			if r, ok := remotes[st.PipeID]; ok {
				now[strconv.Itoa(i)+"/"+st.PipeID] = pipeSeen{remote: r, stat: st}
			}
		}
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.retired == nil {
		pt.retired, pt.live = map[cluster.ServerID]ipc.PipeStat{}, map[string]pipeSeen{}
	}
	for k, old := range pt.live {
		if _, ok := now[k]; !ok {
			pt.retired[old.remote] = addStats(pt.retired[old.remote], old.stat)
		}
	}
	pt.live = now
	sums := map[cluster.ServerID]ipc.PipeStat{}
	pipes, producers := map[cluster.ServerID]int{}, map[cluster.ServerID]int{}
	for r, st := range pt.retired {
		sums[r] = st
	}
	for _, s := range now {
		sums[s.remote] = addStats(sums[s.remote], s.stat)
		pipes[s.remote]++
		producers[s.remote] += s.stat.Outs + s.stat.Producers
	}
	for _, r := range slices.Sorted(maps.Keys(sums)) {
		st, l := sums[r], string(r)
		gauge(dRemotePipes, float64(pipes[r]), l)
		gauge(dRemoteProducers, float64(producers[r]), l)
		counter(dRemoteSentPkts, float64(st.PacketsOut), l)
		counter(dRemoteSentBytes, float64(st.BytesOut), l)
		counter(dRemoteRecvPkts, float64(st.PacketsIn), l)
		counter(dRemoteRecvBytes, float64(st.BytesIn), l)
		counter(dRemoteRejected, float64(st.Rejected), l)
	}
}

func addStats(a, b ipc.PipeStat) ipc.PipeStat {
	a.PacketsOut += b.PacketsOut
	a.BytesOut += b.BytesOut
	a.PacketsIn += b.PacketsIn
	a.BytesIn += b.BytesIn
	a.Rejected += b.Rejected
	return a
}
