package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
)

// Probe asks a server, over a channel other than the bus, whether it is
// alive; nil means it answered as itself. A server silent on the bus that
// answers is cut from the broker, not gone: the API keeps its rooms where
// they are, and the probe renews the server's lease (cluster.Lease).
type Probe func(ctx context.Context, srv registry.Server) error

// HTTPProbe probes a server's cluster.LeasePath at its signalling URL with a
// short-lived token signed with the join-token secret the servers share.
func HTTPProbe(secret []byte, client *http.Client) Probe {
	if client == nil {
		client = &http.Client{}
	}
	return func(ctx context.Context, srv registry.Server) error {
		if srv.SignalURL == "" {
			return fmt.Errorf("server %s has no signalling URL", srv.Server)
		}
		tok, err := auth.Sign(secret, auth.Grant{Room: cluster.LeaseRoom, Identity: string(ID), Expires: time.Now().Add(time.Minute)})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(srv.SignalURL, "/")+cluster.LeasePath, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var ans cluster.LeaseAnswer
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("server %s answered the probe with %s", srv.Server, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
			return fmt.Errorf("server %s: probe answer: %w", srv.Server, err)
		}
		if ans.Server != srv.Server {
			// Its address now serves another server: the one asked is gone.
			return fmt.Errorf("%s answers as server %s, not %s", srv.SignalURL, ans.Server, srv.Server)
		}
		return nil
	}
}

// probeResults counts the probes of silent servers by result: alive (the
// server answered: off the bus, not gone) or failed.
func newProbeResults(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "voicectl", Subsystem: "api", Name: "server_probes_total",
		Help: "HTTP probes of servers silent on the bus, by result: alive (answered) or failed."}, []string{"result"})
	c.WithLabelValues("alive")
	c.WithLabelValues("failed")
	reg.MustRegister(c)
	return c
}

// checkProbe probes a server new to the API (three times, a heartbeat
// apart: a server answers once it has joined the cluster), so that an API
// that cannot reach a server's signalling URL is said at once, not found
// out in a broker outage (the probe is what keeps a server off the bus
// alive and its lease renewed).
func (o *Orchestrator) checkProbe(id cluster.ServerID) {
	var err error
	for range 3 {
		select {
		case <-o.stop:
			return
		case <-time.After(o.p.Heartbeat):
		}
		srv, ok := o.reg.Get(id)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(o.life, min(max(o.p.Heartbeat, 500*time.Millisecond), 2*time.Second))
		err = o.p.Probe(ctx, srv)
		cancel()
		if err == nil {
			o.probes.WithLabelValues("alive").Inc()
			return
		}
	}
	o.probes.WithLabelValues("failed").Inc()
	srv, _ := o.reg.Get(id)
	o.log.Warn("cannot probe a server over HTTP: in a broker outage it would be cut off and its peers sent away; the API must reach each server's signalling URL",
		"server", id, "url", srv.SignalURL, "err", err)
}
