package amqp

import "github.com/prometheus/client_golang/prometheus"

// metrics count what the adapter did with the broker. Labels are bounded:
// kind is request, reply or event; result is ack or nack.
type metrics struct {
	published    *prometheus.CounterVec
	confirms     *prometheus.CounterVec
	redeliveries prometheus.Counter
	rejected     prometheus.Counter
	reconnects   prometheus.Counter
	connected    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "bus", Name: "published_total",
			Help: "Messages published to RabbitMQ, by kind (request, reply, event)."}, []string{"kind"}),
		confirms: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "bus", Name: "confirms_total",
			Help: "Publisher confirms received, by result (ack, nack)."}, []string{"result"}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "bus", Name: "redeliveries_total",
			Help: "Requests delivered again after a consumer or connection was lost before its ack."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "bus", Name: "rejected_total",
			Help: "Malformed messages acked and dropped so they cannot loop."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "bus", Name: "reconnects_total",
			Help: "Connections made to RabbitMQ again after one was lost."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "voicectl", Subsystem: "bus", Name: "connected",
			Help: "1 while connected to RabbitMQ."}),
	}
	// Every kind and result is exported from the start, at 0 (a nack
	// alert works before the first nack).
	for _, kind := range []string{"request", "reply", "event"} {
		m.published.WithLabelValues(kind)
	}
	for _, result := range []string{"ack", "nack"} {
		m.confirms.WithLabelValues(result)
	}
	if reg != nil {
		reg.MustRegister(m.published, m.confirms, m.redeliveries, m.rejected, m.reconnects, m.connected)
	}
	return m
}
