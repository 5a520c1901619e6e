package loadgen

import "github.com/voicectl/voicectl/client"

// NetworkReport splits a run's loss on an impaired network (Scenario.Network)
// between what the network took and what the listeners never got back.
//
// Raw loss counts, for each listener and each publisher it hears, the
// sequence numbers of the window whose first copy an impairment dropped:
// on the publisher's socket on the way out, or on the listener's on the way
// in (two hops: about 1-(1-p)² of the stream at a per-hop loss p). Residual
// loss is the sequence numbers that never arrived in the end, after any
// retransmission (RFC 4585 NACK) or recovery; it is the report's
// loss_ratio. With nothing recovering, residual equals raw.
type NetworkReport struct {
	Loss        float64 `json:"loss"`
	BurstLoss   float64 `json:"burst_loss"`
	BurstLength float64 `json:"burst_length"`
	JitterMs    float64 `json:"jitter_ms"`
	Reorder     float64 `json:"reorder"`
	Seed        uint64  `json:"seed"`

	RawLostPackets      uint64  `json:"raw_lost_packets"`
	RawLossRatio        float64 `json:"raw_loss_ratio"`
	ResidualLostPackets uint64  `json:"residual_lost_packets"`
	ResidualLossRatio   float64 `json:"residual_loss_ratio"`
	// RecoveredPackets is raw less residual (retransmissions that came).
	RecoveredPackets uint64 `json:"recovered_packets"`
	// OtherLostPackets never came although no impairment dropped them:
	// the loss the server (or the machine) caused, what calibrate's
	// --max-loss limits on an impaired network.
	OtherLostPackets uint64  `json:"other_lost_packets"`
	OtherLossRatio   float64 `json:"other_loss_ratio"`
	// Retransmissions: copies of a sequence number after the first (arrived
	// or dropped) the listeners received in the window, their bytes, and
	// those as a share of every RTP byte the listeners received.
	RetransmissionsReceived uint64  `json:"retransmissions_received"`
	RetransmissionBytes     uint64  `json:"retransmission_bytes"`
	BytesReceived           uint64  `json:"bytes_received"`
	RetransmissionByteRatio float64 `json:"retransmission_byte_ratio"`
	// NACK is whether the peers answered an offer of NACK with it
	// (--nack); NACKedPackets the sequence numbers the listeners asked for
	// in the window, retries included.
	NACK          bool   `json:"nack"`
	NACKedPackets uint64 `json:"nacked_packets"`
	// ListenersNACKing counts the listeners whose answer kept NACK: 0 when
	// the server offered none.
	ListenersNACKing int `json:"listeners_nacking"`
	// RED is whether the peers answered an offer of RED with it (--red);
	// ListenersRED counts the listeners whose answer kept it, and
	// REDRecoveredPackets the frames they recovered from the next packet's
	// redundant block in the window.
	RED                 bool   `json:"red"`
	ListenersRED        int    `json:"listeners_red"`
	REDRecoveredPackets uint64 `json:"red_recovered_packets"`
	// What the impairing sockets did in the window, every peer's added up.
	Impaired client.ImpairStats `json:"impaired"`
}

// onImpairDrop records a packet the peer's impairment dropped: its own
// stream's on the way out, another's on the way in (if no copy of it came
// or was dropped before: raw loss counts first copies).
func (p *peer) onImpairDrop(sent bool, ssrc uint32, seq uint16) {
	if sent {
		p.mu.Lock()
		p.sentDropped.set(seq)
		p.mu.Unlock()
		return
	}
	st := p.stream(ssrc)
	st.mu.Lock()
	if !st.seen.has(seq) {
		st.dropped.set(seq)
	}
	st.mu.Unlock()
}

// rawLost counts the sequence numbers in [from, to) of publisher q's stream,
// as listener stream st heard it, whose first copy was dropped on either hop
// (raw), and those that never came although no impairment dropped them
// (other: the server's or the machine's loss).
func rawLost(q *peer, st *stream, from, to uint16) (raw, other uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	for seq := from; seq != to; seq++ {
		switch {
		case q.sentDropped.has(seq) || st.dropped.has(seq):
			raw++
		case !st.seen.has(seq):
			other++
		}
	}
	return raw, other
}

// networkCounters are the peers' counters a window subtracts.
type networkCounters struct {
	retrans, retransBytes, rxBytes, nacked, red uint64
	impaired                                    client.ImpairStats
}

func readNetworkCounters(peers []*peer) networkCounters {
	var c networkCounters
	for _, p := range peers {
		c.retrans += p.retrans.Load()
		c.retransBytes += p.retransBytes.Load()
		c.rxBytes += p.rxBytes.Load()
		c.nacked += p.nacked.Load()
		c.red += p.redRecovered.Load()
		pc := p.client()
		if pc == nil {
			continue
		}
		st := pc.ImpairStats()
		c.impaired.RTPSentDropped += st.RTPSentDropped
		c.impaired.RTPReceivedDropped += st.RTPReceivedDropped
		c.impaired.RTCPDropped += st.RTCPDropped
		c.impaired.Delayed += st.Delayed
		c.impaired.Reordered += st.Reordered
	}
	return c
}

// networkReport fills in the window's report from raw loss counted and the
// counters at its start and end.
func (n Network) report(r Report, raw, other uint64, c0, c1 networkCounters) *NetworkReport {
	out := &NetworkReport{Loss: float64(n.Loss), BurstLoss: float64(n.BurstLoss), BurstLength: n.BurstLength,
		JitterMs: float64(n.Jitter.Microseconds()) / 1000, Reorder: float64(n.Reorder), Seed: n.Seed,
		RawLostPackets: raw, OtherLostPackets: other, ResidualLostPackets: r.PacketsExpected - r.PacketsReceived, ResidualLossRatio: r.LossRatio,
		RetransmissionsReceived: c1.retrans - c0.retrans, RetransmissionBytes: c1.retransBytes - c0.retransBytes,
		BytesReceived: c1.rxBytes - c0.rxBytes, NACKedPackets: c1.nacked - c0.nacked,
		REDRecoveredPackets: c1.red - c0.red}
	if n.BurstLoss > 0 && n.BurstLength == 0 {
		out.BurstLength = client.DefaultBurstLength
	}
	if r.PacketsExpected > 0 {
		out.RawLossRatio = float64(raw) / float64(r.PacketsExpected)
		out.OtherLossRatio = float64(other) / float64(r.PacketsExpected)
	}
	if raw > out.ResidualLostPackets {
		out.RecoveredPackets = raw - out.ResidualLostPackets
	}
	if out.BytesReceived > 0 {
		out.RetransmissionByteRatio = float64(out.RetransmissionBytes) / float64(out.BytesReceived)
	}
	out.Impaired = client.ImpairStats{RTPSentDropped: c1.impaired.RTPSentDropped - c0.impaired.RTPSentDropped,
		RTPReceivedDropped: c1.impaired.RTPReceivedDropped - c0.impaired.RTPReceivedDropped,
		RTCPDropped:        c1.impaired.RTCPDropped - c0.impaired.RTCPDropped,
		Delayed:            c1.impaired.Delayed - c0.impaired.Delayed, Reordered: c1.impaired.Reordered - c0.impaired.Reordered}
	return out
}

// active reports whether the network is impaired at all.
func (n Network) active() bool { return n.impairment("") != nil }

// serverLossRatio is the loss a run's thresholds judge the server by: on an
// impaired network, what no impairment explains; otherwise all of it.
func (r Report) serverLossRatio() float64 {
	if r.Network != nil {
		return r.Network.OtherLossRatio
	}
	return r.LossRatio
}
