package control

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/supervisor"
)

// metrics are the control process's own instruments (the signalling and
// admin ones are their packages'); worker figures are read at scrape time by
// workerCollector.
type metrics struct {
	// noCapacity counts joins the host or the upgrade refused for want of
	// a worker.
	noCapacity prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		noCapacity: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "server", Name: "no_capacity_total",
			Help: "Joins refused because no worker had capacity.",
		}),
	}
	reg.MustRegister(m.noCapacity)
	return m
}

// workerCollector exports every worker's load and the room state at scrape time.
// Labels are bounded: worker is an index below worker.count; no label carries a
// room name or any other client-chosen value.
type workerCollector struct {
	sup  *supervisor.Supervisor
	host *roomhost.Host
	// capacity is worker.max_consumers.
	capacity int
	// pipes is set in a cluster: the relay and pipe figures per server.
	pipes *pipeTotals
}

var (
	workerLabels = []string{"worker"}
	descs        = map[string]*prometheus.Desc{}
)

func desc(subsystem, name, help string, labels []string) *prometheus.Desc {
	fq := prometheus.BuildFQName("voicectl", subsystem, name)
	if d, ok := descs[fq]; ok {
		return d
	}
	d := prometheus.NewDesc(fq, help, labels, nil)
	descs[fq] = d
	return d
}

var (
	dWorkerUp        = desc("worker", "up", "1 when the worker process is running and ready.", workerLabels)
	dWorkerLoad      = desc("worker", "load_units", "Measured load: consumers + producers + pipe consumers.", workerLabels)
	dWorkerReserved  = desc("worker", "reserved_load_units", "Load accounted for admission (every publisher producing).", workerLabels)
	dWorkerCapacity  = desc("worker", "capacity_units", "Capacity in load units (worker.max_consumers).", workerLabels)
	dWorkerStress    = desc("worker", "stress_ratio", "max(load, reserved load) / capacity.", workerLabels)
	dWorkerCPU       = desc("worker", "cpu_seconds_total", "User and system CPU time of the worker process (/proc/<pid>/stat).", workerLabels)
	dWorkerRestarts  = desc("worker", "restarts_total", "Times the supervisor restarted this worker.", workerLabels)
	dWorkerRouters   = desc("worker", "routers", "Routers on the worker.", workerLabels)
	dWorkerTrans     = desc("worker", "transports", "WebRTC transports (peers) on the worker.", workerLabels)
	dWorkerProducers = desc("worker", "producers", "Producers on the worker, local and piped.", workerLabels)
	dWorkerConsumers = desc("worker", "consumers", "Consumers (forwarded copies to peers) on the worker.", workerLabels)
	dWorkerPipes     = desc("worker", "pipe_transports", "Pipe transport ends on the worker.", workerLabels)
	dWorkerPipeCons  = desc("worker", "pipe_consumers", "Producers sent through pipes from the worker.", workerLabels)
	dWorkerPipeProd  = desc("worker", "pipe_producers", "Producers received through pipes on the worker.", workerLabels)
	dPacketsIn       = desc("worker", "packets_received_total", "RTP packets received from producers.", workerLabels)
	dPacketsOut      = desc("worker", "packets_forwarded_total", "RTP packets forwarded to consumers and pipes.", workerLabels)
	dBytesIn         = desc("worker", "received_bytes_total", "RTP bytes received from producers.", workerLabels)
	dBytesOut        = desc("worker", "forwarded_bytes_total", "RTP bytes forwarded to consumers and pipes.", workerLabels)
	dLost            = desc("worker", "rtcp_packets_lost_total", "Packets listeners reported lost in RTCP receiver reports.", workerLabels)
	dJitter          = desc("worker", "rtcp_jitter_seconds", "Mean interarrival jitter listeners report in RTCP receiver reports.", workerLabels)
	dQualityScore    = desc("worker", "connection_quality_score", "Connection quality scores (0-100, simplified E-model) of the worker's peers, one per peer every 2 s.", workerLabels)
	dQualityLoss     = desc("worker", "connection_loss_ratio", "Packet loss (0-1) of the worker's peers' connections, as scored, one per peer every 2 s.", workerLabels)
	dConsentAnswered = desc("worker", "ice_consent_checks_answered_total", "Peers' ICE consent checks (RFC 7675) the worker's sockets answered themselves.", workerLabels)
	dConsentConfirm  = desc("worker", "ice_consent_checks_confirmed_total", "The worker's own ICE consent checks (RFC 7675) that peers answered.", workerLabels)
	dIngressRTP      = desc("worker", "ingress_rtp_packets_total", "Publishers' RTP packets the worker's sockets decrypted and forwarded themselves, without pion.", workerLabels)
	dIngressRejected = desc("worker", "ingress_rtp_rejected_total", "Publishers' RTP packets the worker's sockets dropped as SRTP replays or forgeries (RFC 3711 §3.3).", workerLabels)
	dIngressDropped  = desc("worker", "ingress_rtp_dropped_total", "Publishers' RTP packets the worker's sockets dropped because that stream's fan-outs were 32 packets behind.", workerLabels)
	dREDMalformed    = desc("worker", "red_malformed_total", "Publishers' RED packets (RFC 2198) dropped because their block headers or lengths did not fit the packet.", workerLabels)
	dNACKsReceived   = desc("worker", "nack_requested_packets_total", "Packets listeners asked for again in generic NACKs (RFC 4585 §6.2.1).", workerLabels)
	dRetransmits     = desc("worker", "retransmitted_packets_total", "Packets re-sent to listeners that NACKed them.", workerLabels)
	dRtxRefused      = desc("worker", "retransmits_refused_total", "NACKed packets not re-sent because of the limits: 2 per packet and listener, a rate per listener.", workerLabels)
	dRtxMissing      = desc("worker", "retransmits_missing_total", "NACKed packets not re-sent because the worker's history no longer (or never) held them.", workerLabels)
	dNACKsSent       = desc("worker", "nack_sent_packets_total", "Packets the worker asked publishers for again in generic NACKs.", workerLabels)
	dRooms           = desc("server", "rooms", "Rooms on this server.", nil)
	dPeers           = desc("server", "peers", "Peers joined on this server.", nil)
	dWorkers         = desc("server", "workers", "Configured worker processes.", nil)
)

func (wc workerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

func (wc workerCollector) Collect(ch chan<- prometheus.Metric) {
	reserved := wc.host.Loads()
	rooms, peers := wc.host.Counts()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge(dRooms, float64(rooms))
	gauge(dPeers, float64(peers))
	gauge(dWorkers, float64(wc.sup.Len()))
	if wc.pipes != nil {
		relayRooms, _, relayPeers := wc.host.Lender().Counts()
		gauge(dRelayRooms, float64(relayRooms))
		gauge(dRelayPeers, float64(relayPeers))
		wc.pipes.collect(wc.host, wc.sup, gauge, counter)
	}
	capacity := float64(wc.capacity)
	for i, st := range wc.sup.Workers() {
		w := strconv.Itoa(i)
		res := reserved[wc.sup.Ref(i)]
		up := 0.0
		if st.Ready {
			up = 1
		}
		gauge(dWorkerUp, up, w)
		gauge(dWorkerCapacity, capacity, w)
		gauge(dWorkerReserved, float64(res.Units()), w)
		counter(dWorkerRestarts, float64(st.Restarts), w)
		smp, ok := wc.sup.LastSample(i)
		if !ok || smp.PID != st.PID || !st.Ready {
			gauge(dWorkerStress, float64(res.Units())/capacity, w)
			continue
		}
		l := smp.Load
		load := l.Consumers + l.Producers + l.PipeConsumers
		gauge(dWorkerLoad, float64(load), w)
		gauge(dWorkerStress, float64(max(load, res.Units()))/capacity, w)
		counter(dWorkerCPU, smp.CPU, w)
		gauge(dWorkerRouters, float64(l.Routers), w)
		gauge(dWorkerTrans, float64(l.Transports), w)
		gauge(dWorkerProducers, float64(l.Producers), w)
		gauge(dWorkerConsumers, float64(l.Consumers), w)
		gauge(dWorkerPipes, float64(l.Pipes), w)
		gauge(dWorkerPipeCons, float64(l.PipeConsumers), w)
		gauge(dWorkerPipeProd, float64(l.PipeProducers), w)
		counter(dPacketsIn, float64(l.PacketsIn), w)
		counter(dPacketsOut, float64(l.PacketsOut), w)
		counter(dBytesIn, float64(l.BytesIn), w)
		counter(dBytesOut, float64(l.BytesOut), w)
		counter(dLost, float64(l.RTCPPacketsLost), w)
		gauge(dJitter, l.RTCPJitterSeconds, w)
		if h, ok := constHistogram(dQualityScore, ipc.QualityScoreBounds, l.QualityScoreBuckets, l.QualityScoreSum, w); ok {
			ch <- h
		}
		if h, ok := constHistogram(dQualityLoss, ipc.QualityLossBounds, l.QualityLossBuckets, l.QualityLossSum, w); ok {
			ch <- h
		}
		counter(dConsentAnswered, float64(l.ConsentAnswered), w)
		counter(dConsentConfirm, float64(l.ConsentConfirmed), w)
		counter(dIngressRTP, float64(l.IngressRTP), w)
		counter(dIngressRejected, float64(l.IngressRejected), w)
		counter(dIngressDropped, float64(l.IngressDropped), w)
		counter(dREDMalformed, float64(l.REDMalformed), w)
		counter(dNACKsReceived, float64(l.NACKsReceived), w)
		counter(dRetransmits, float64(l.Retransmits), w)
		counter(dRtxRefused, float64(l.RetransmitsRefused), w)
		counter(dRtxMissing, float64(l.RetransmitsMissing), w)
		counter(dNACKsSent, float64(l.NACKsSent), w)
	}
}

// constHistogram is a worker's histogram from its counts per bucket (the
// last past every bound). A worker that measured nothing yet sends none:
// it is an empty histogram then, so that it exists from the start as
// client_golang's own do (dashboards and alerts naming it see zeros, not
// no series). False for counts that do not match the bounds.
func constHistogram(d *prometheus.Desc, bounds []float64, counts []uint64, sum float64, labels ...string) (prometheus.Metric, bool) {
	if len(counts) == 0 {
		counts = make([]uint64, len(bounds)+1)
	}
	if len(counts) != len(bounds)+1 {
		return nil, false
	}
	cum := make(map[float64]uint64, len(bounds))
	var total uint64
	for i, b := range bounds {
		total += counts[i]
		cum[b] = total
	}
	total += counts[len(bounds)]
	return prometheus.MustNewConstHistogram(d, total, sum, cum, labels...), true
}
