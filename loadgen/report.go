package loadgen

// Report is the result of a measurement window (JSON field names are stable).
type Report struct {
	PeersJoined     int     `json:"peers_joined"`
	PeersFailed     int     `json:"peers_failed"`
	JoinError       string  `json:"join_error,omitempty"` // the first failure's reason
	PacketsSent     uint64  `json:"packets_sent"`
	PacketsExpected uint64  `json:"packets_expected"`
	PacketsReceived uint64  `json:"packets_received"`
	LossRatio       float64 `json:"loss_ratio"`
	JitterMsP50     float64 `json:"jitter_ms_p50"`
	LatencyMsP50    float64 `json:"latency_ms_p50"`
	LatencyMsP99    float64 `json:"latency_ms_p99"`
	LatencySamples  int     `json:"latency_samples"`
	JoinMsP50       float64 `json:"join_ms_p50"`
	JoinMsP99       float64 `json:"join_ms_p99"`
	DurationSeconds float64 `json:"duration_seconds"`
	// StreamWaitMs is how long past the warmup the window waited for every
	// listener to hear every publisher of its room (at most 5 s; a stream
	// missing then is measured as lost).
	StreamWaitMs float64 `json:"stream_wait_ms"`
	// From the admin API (0 without an admin key).
	ServerCPUSeconds      float64 `json:"server_cpu_seconds"`
	ForwardedPackets      uint64  `json:"forwarded_packets"`
	CPUMicrosPerForwarded float64 `json:"cpu_us_per_forwarded_packet"`
	// AllocsPerForwarded is the workers' heap allocations per forwarded packet over
	// the window (steady state; everything the worker did is included).
	AllocsPerForwarded  float64 `json:"allocs_per_forwarded_packet"`
	GeneratorCPUSeconds float64 `json:"generator_cpu_seconds"`
	// MachineBusyRatio is how busy this machine's CPUs were during the window; near
	// 1 the generator and the server (if on this machine) starve each other.
	MachineBusyRatio    float64 `json:"machine_busy_ratio"`
	GeneratorBottleneck bool    `json:"generator_bottleneck"`
	// By the listener's worker (needs the admin API): with publishers on one
	// worker, the difference between workers is the cost of the pipe hop.
	LatencyMsP50ByWorker map[string]float64 `json:"latency_ms_p50_by_worker,omitempty"`
	LatencyMsP99ByWorker map[string]float64 `json:"latency_ms_p99_by_worker,omitempty"`
	// The workers' own forwarding delay (arrival → last copy written), since they started.
	ServerForwardDelayMsP50 float64     `json:"server_forward_delay_ms_p50"`
	ServerForwardDelayMsP99 float64     `json:"server_forward_delay_ms_p99"`
	WorstListenerLossRatio  float64     `json:"worst_listener_loss_ratio"`
	ListenersMissingStreams int         `json:"listeners_missing_streams"`
	Idle                    *IdleReport `json:"idle,omitempty"` // with an idle window
	// ListenerGapsMs is each listener's longest time without a packet in
	// the window, by identity: what a move, a drain or a restart cost it.
	ListenerGapsMs   map[string]float64 `json:"listener_gaps_ms,omitempty"`
	ListenerGapMsP50 float64            `json:"listener_gap_ms_p50"`
	ListenerGapMsMax float64            `json:"listener_gap_ms_max"`
	// Rejoins counts the peers' new clients in the window (moves followed,
	// reconnects). For a listener and a publisher either of which rejoined
	// (RejoinedPairs), loss is counted over the span both current clients
	// were up, from the first packet heard in it (rejoinspan.go); the
	// handover itself shows as the listener's gap.
	Rejoins       int `json:"rejoins"`
	PeersRejoined int `json:"peers_rejoined"`
	RejoinedPairs int `json:"rejoined_pairs"`
	// Transport is the path the listeners were held to (--transport; ""
	// let ICE pick), ListenerPaths the listeners by the path the server saw
	// their media take (the admin API's peer path, "none" before it
	// connected; needs the admin key): a check that they took it.
	Transport     string         `json:"transport"`
	ListenerPaths map[string]int `json:"listener_paths,omitempty"`
	// Network splits the loss into raw and residual on an impaired
	// network (loss, burst_loss, jitter, reorder).
	Network *NetworkReport `json:"network,omitempty"`
}

// listenerPaths counts the listeners by their media's path, as the admin
// API gave it (pathOf, by peer id); nil when it gave none.
func listenerPaths(peers []*peer, pathOf map[string]string) map[string]int {
	if len(pathOf) == 0 {
		return nil
	}
	out := map[string]int{}
	for _, p := range peers {
		if p.publish {
			continue
		}
		path, ok := pathOf[p.client().PeerID()]
		switch {
		case !ok:
			continue // not in the admin API's answer (it rejoined, say)
		case path == "":
			path = "none"
		}
		out[path]++
	}
	return out
}

// addGaps fills in the listeners' gaps and the rejoins.
func (r *Report) addGaps(gaps map[string]float64, rejoins map[*peer]int32) {
	if len(gaps) > 0 {
		r.ListenerGapsMs = gaps
		all := make([]float64, 0, len(gaps))
		for _, g := range gaps {
			all = append(all, g)
		}
		all = sortedCopy(all)
		r.ListenerGapMsP50, r.ListenerGapMsMax = percentile(all, 50), all[len(all)-1]
	}
	for _, n := range rejoins {
		if n > 0 {
			r.PeersRejoined++
			r.Rejoins += int(n)
		}
	}
}

// IdleReport splits the server's CPU and allocations between the peers being
// connected (measured while every publisher is paused) and the packets
// forwarded: server CPU ≈ background × seconds + marginal × forwarded packets.
type IdleReport struct {
	Seconds          float64 `json:"seconds"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// ForwardedPackets while paused: 0 unless packets were still in flight.
	ForwardedPackets uint64 `json:"forwarded_packets"`
	// BackgroundCPUMillisPerSecond is the server's CPU per second with every
	// peer connected and nothing forwarded: consent checks and answers, RTCP,
	// the ICE agents' timers.
	BackgroundCPUMillisPerSecond float64 `json:"background_cpu_ms_per_second"`
	BackgroundAllocsPerSecond    float64 `json:"background_allocs_per_second"`
	// The window's CPU and allocations less the background's share, per
	// forwarded packet.
	MarginalCPUMicrosPerForwarded float64 `json:"marginal_cpu_us_per_forwarded_packet"`
	MarginalAllocsPerForwarded    float64 `json:"marginal_allocs_per_forwarded_packet"`
}
