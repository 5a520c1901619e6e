package delivery

import "github.com/prometheus/client_golang/prometheus"

// Failure reasons of voicectl_webhook_failed_total.
const (
	FailedMaxAge    = "max_age"    // retried past webhooks.max_age, then given up (logged in full)
	FailedQueueFull = "queue_full" // not queued: the disk queue was full (logged in full)
	FailedMalformed = "malformed"  // a bus message that is not an event (logged)
	FailedDisk      = "disk_error" // not written to the disk queue (logged in full)
)

// Metrics are the webhook counters; one per process, shared by its senders
// (a label tells the HTTP receivers from the bus).
type Metrics struct {
	delivered *prometheus.CounterVec
	retried   *prometheus.CounterVec
	pending   *prometheus.GaugeVec
	failed    *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voicectl_webhook_delivered_total",
			Help: "Webhook events taken by their destination: to=http (every URL answered 2xx) or to=bus (a cluster server's event confirmed by RabbitMQ)."}, []string{"to"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voicectl_webhook_retries_total",
			Help: "Failed tries of a webhook event that will be tried again (non-2xx, timeout, bus down)."}, []string{"to"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "voicectl_webhook_pending",
			Help: "Webhook events accepted and not yet delivered or given up."}, []string{"to"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voicectl_webhook_failed_total",
			Help: "Webhook events given up, each logged in full: reason=max_age, queue_full or malformed."}, []string{"reason"}),
	}
	// Every reason from the start, at 0, so that an alert on an increase
	// sees the first one.
	for _, r := range []string{FailedMaxAge, FailedQueueFull, FailedMalformed, FailedDisk} {
		m.failed.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.delivered, m.retried, m.pending, m.failed)
	}
	return m
}
