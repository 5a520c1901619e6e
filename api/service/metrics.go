package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/registry"
)

// metrics of the API. Labels are bounded: route is a registered pattern,
// server a server id (a small set), never a room.
type metrics struct {
	requests      *prometheus.HistogramVec
	rehomed       prometheus.Counter
	moves         *prometheus.CounterVec
	creates       *prometheus.CounterVec
	badHeartbeats prometheus.Counter
	authFailures  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *registry.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "voicectl", Subsystem: "api", Name: "request_duration_seconds",
			Help: "API requests by route and status code.", Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route", "code"}),
		rehomed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "api", Name: "rooms_rehomed_total",
			Help: "Rooms moved from a dead server to a live one."}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "api", Name: "rooms_moved_total",
			Help: "Rooms moved to another live server, by why: api (POST /v1/rooms/{room}/move), drain, rebalance."}, []string{"why"}),
		creates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "api", Name: "room_creates_total",
			Help: "Room creates by result (created, existing, no_capacity)."}, []string{"result"}),
		badHeartbeats: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "api", Name: "bad_heartbeats_total",
			Help: "Heartbeats dropped as malformed or forged (sender and body disagree)."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "api", Name: "auth_failures_total",
			Help: "API requests refused for a missing or wrong API key."}),
	}
	// Every label value known in advance is exported from the start, at 0,
	// so rate() and alerts work on a fresh API.
	for _, why := range []string{"api", "drain", "rebalance"} {
		m.moves.WithLabelValues(why)
	}
	for _, result := range []string{"created", "existing", "no_capacity"} {
		m.creates.WithLabelValues(result)
	}
	reg.MustRegister(m.requests, m.rehomed, m.moves, m.creates, m.badHeartbeats, m.authFailures, registryCollector{r})
	return m
}

var (
	dServerUp     = prometheus.NewDesc("voicectl_api_server_up", "1 while the server's heartbeats arrive, 0 once it is declared dead.", []string{"server"}, nil)
	dServerStress = prometheus.NewDesc("voicectl_api_server_stress_ratio", "The server's stress in its last heartbeat.", []string{"server"}, nil)
	dServerRooms  = prometheus.NewDesc("voicectl_api_server_rooms", "Rooms the server hosts, by its last heartbeat.", []string{"server"}, nil)
	dServerPeers  = prometheus.NewDesc("voicectl_api_server_peers", "Peers on the server, by its last heartbeat.", []string{"server"}, nil)
	dHeartbeatAge = prometheus.NewDesc("voicectl_api_server_heartbeat_age_seconds", "Time since the server's last heartbeat.", []string{"server"}, nil)
)

// registryCollector exports the registry at scrape time.
type registryCollector struct{ r *registry.Registry }

func (c registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dServerUp, dServerStress, dServerRooms, dServerPeers, dHeartbeatAge} {
		ch <- d
	}
}

func (c registryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.Snapshot() {
		id := string(s.Server)
		up := 1.0
		if s.Dead {
			up = 0
		}
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, id)
		}
		g(dServerUp, up)
		g(dServerStress, s.Stress)
		g(dServerRooms, float64(len(s.Rooms)))
		g(dServerPeers, float64(s.Peers))
		g(dHeartbeatAge, timeSince(s.LastSeen))
	}
}
