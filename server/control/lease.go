package control

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/wire"
)

// serveLease answers the API's probe (cluster.LeasePath): the API reached
// this server outside the bus, which renews the server's lease on its rooms
// and tells the API the server is alive though silent on the bus. Only a
// token signed with the cluster's secret for cluster.LeaseRoom renews it: a
// load balancer's health check or a join token does not.
func (c *Control) serveLease(w http.ResponseWriter, r *http.Request) {
	g, err := auth.Verify(c.secret, httpx.BearerHeader(r))
	if err != nil || g.Room != cluster.LeaseRoom {
		httpx.Error(w, http.StatusUnauthorized, wire.CodeUnauthorized, "a lease probe needs the API's token")
		return
	}
	c.drainMu.Lock()
	a := c.agent
	c.drainMu.Unlock()
	if a == nil {
		httpx.Error(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "not in a cluster, or not joined yet")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, cluster.LeaseAnswer{Server: c.serverID, Until: a.Vouched()})
}

// registerLeaseMetric exports whether the server admits joins to its rooms.
func (c *Control) registerLeaseMetric(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "voicectl", Subsystem: "server", Name: "lease_held",
		Help: "1 while the server admits joins to its rooms: outside a cluster, or its lease renewed by its heartbeat seen back or the API's probe."},
		func() float64 {
			c.drainMu.Lock()
			a := c.agent
			c.drainMu.Unlock()
			if a == nil || a.Leased() {
				return 1
			}
			return 0
		}))
}
