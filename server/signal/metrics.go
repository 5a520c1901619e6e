package signal

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/wire"
)

// Metrics are the signalling instruments (docs/metrics.md).
type Metrics struct {
	joinSeconds  prometheus.Histogram
	signalErrors *prometheus.CounterVec
	// limited counts clients refused or cut off by a signal.* limit.
	limited *prometheus.CounterVec
	// resumes counts the steps of signalling resume (resume.go), by result.
	resumes *prometheus.CounterVec
}

// Results of voicectl_signal_resumes_total.
const (
	ResumeDetached = "detached" // a socket dropped; its session waits
	ResumeResumed  = "resumed"  // a client took its session back
	ResumeExpired  = "expired"  // the window passed; the peer left
	ResumeFailed   = "failed"   // a resume refused: unknown token, or messages no longer kept
)

// NewMetrics makes the signalling instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		joinSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "voicectl", Subsystem: "signal", Name: "join_duration_seconds",
			Help:    "Time from a join request to the peer's transport and consumers being set up.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		signalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "signal", Name: "errors_total",
			Help: "Signalling errors sent to clients, by stable error code.",
		}, []string{"code"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "signal", Name: "limited_total",
			Help: "Clients refused or disconnected by a signalling limit (signal.*), by limit.",
		}, []string{"limit"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "signal", Name: "resumes_total",
			Help: "Signalling sessions detached by a dropped WebSocket, resumed, expired, and resumes refused.",
		}, []string{"result"}),
	}
	// Each stable code and limit is exported from the start at 0, so
	// rate() and alerts on it work on a fresh server.
	for _, code := range wire.Codes {
		m.signalErrors.WithLabelValues(string(code))
	}
	for _, l := range limitNames {
		m.limited.WithLabelValues(l)
	}
	for _, r := range []string{ResumeDetached, ResumeResumed, ResumeExpired, ResumeFailed} {
		m.resumes.WithLabelValues(r)
	}
	reg.MustRegister(m.joinSeconds, m.signalErrors, m.limited, m.resumes)
	return m
}

// Limited is the counter of clients refused or cut off by limit (one of
// the Limit* names).
func (m *Metrics) Limited(limit string) prometheus.Counter { return m.limited.WithLabelValues(limit) }

// Resumes is the counter of resume steps with result (one of the Resume* names).
func (m *Metrics) Resumes(result string) prometheus.Counter { return m.resumes.WithLabelValues(result) }
