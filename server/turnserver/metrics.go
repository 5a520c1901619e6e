package turnserver

import "github.com/prometheus/client_golang/prometheus"

// Refusal reasons, the values of voicectl_turn_refusals_total's reason label.
const (
	// ReasonPermission: a permission, channel bind or relayed packet for an
	// address that is not a worker's (the relay is not an open relay).
	ReasonPermission = "permission"
	// ReasonQuota: an allocation over turn.max_allocations(_per_user).
	ReasonQuota = "quota"
	// ReasonAuth: a request with an unknown, expired or forged credential.
	ReasonAuth = "auth"
	// ReasonBandwidth: a packet over turn.max_bytes_per_second, dropped.
	ReasonBandwidth = "bandwidth"
)

// Directions of relayed bytes: to the peer (a worker) or from it.
const (
	DirectionToPeer   = "to_peer"
	DirectionFromPeer = "from_peer"
)

// metrics are the TURN server's instruments (docs/metrics.md).
type metrics struct {
	allocations *prometheus.GaugeVec
	bytes       *prometheus.CounterVec
	refusals    *prometheus.CounterVec

	// resolved once: the relay's per-packet path looks nothing up
	toPeer, fromPeer                          prometheus.Counter
	permission, quota, authRefused, bandwidth prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		allocations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "voicectl", Subsystem: "turn", Name: "allocations",
			Help: "Live TURN allocations, by the protocol the client reaches the TURN server with.",
		}, []string{"protocol"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "turn", Name: "relayed_bytes_total",
			Help: "Payload bytes relayed between TURN clients and workers, by direction (to_peer: client to worker).",
		}, []string{"direction"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "turn", Name: "refusals_total",
			Help: "TURN requests and relayed packets refused, by reason: permission, quota, auth, bandwidth.",
		}, []string{"reason"}),
	}
	for _, p := range []string{ProtoUDP, ProtoTCP, ProtoTLS} {
		m.allocations.WithLabelValues(p)
	}
	m.toPeer, m.fromPeer = m.bytes.WithLabelValues(DirectionToPeer), m.bytes.WithLabelValues(DirectionFromPeer)
	m.permission, m.quota = m.refusals.WithLabelValues(ReasonPermission), m.refusals.WithLabelValues(ReasonQuota)
	m.authRefused, m.bandwidth = m.refusals.WithLabelValues(ReasonAuth), m.refusals.WithLabelValues(ReasonBandwidth)
	reg.MustRegister(m.allocations, m.bytes, m.refusals)
	return m
}
