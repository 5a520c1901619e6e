package service

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
	"github.com/voicectl/voicectl/server/wire"
)

// The servers' routes: list, drain, and the API's own readiness.

// DrainRequest is the body of POST /v1/servers/{id}/drain; Deadline is a Go
// duration ("5m"), empty for the server's drain.deadline.
type DrainRequest struct {
	Deadline string `json:"deadline,omitempty"`
}

// drainServer is POST /v1/servers/{id}/drain.
func (s *Service) drainServer(w http.ResponseWriter, r *http.Request) {
	id := cluster.ServerID(r.PathValue("id"))
	var body DrainRequest
	if !decodeBody(w, r, &body) {
		return
	}
	var deadline time.Duration
	if body.Deadline != "" {
		d, err := time.ParseDuration(body.Deadline)
		if err != nil || d <= 0 {
			httpError(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("deadline %q is not a positive duration like 5m", body.Deadline))
			return
		}
		deadline = d
	}
	res, err := s.o.Drain(r.Context(), id, deadline)
	if err != nil {
		s.failed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ClusterDrain{Server: string(id), Until: res.Until, Peers: res.Peers})
}

// servers is GET /v1/servers: the registry, each server with its heartbeat
// age, whether it is alive off the bus (silent there, answering probes),
// and, while the API is off the broker, since when (the ages then say
// nothing of the servers).
func (s *Service) servers(w http.ResponseWriter, _ *http.Request) {
	out := []wire.ClusterServer{}
	now := time.Now()
	st := s.o.busState(now)
	for _, srv := range s.reg.Snapshot() {
		cs := clusterServer(srv, now)
		cs.APIBusDownSince = st.DownSince
		// Off the broker itself, the API has every server silent and
		// probed: off_bus would then say nothing of the server.
		cs.OffBus = srv.OffBus && !srv.Dead && st.Connected
		out = append(out, cs)
	}
	writeJSON(w, http.StatusOK, out)
}

func clusterServer(s registry.Server, now time.Time) wire.ClusterServer {
	cs := wire.ClusterServer{ID: string(s.Server), SignalURL: s.SignalURL, State: s.State(), Version: s.Version, Rooms: len(s.Rooms),
		Peers: s.Peers, Consumers: s.Consumers, Producers: s.Producers, Stress: s.Stress, CPU: s.CPU, Accepting: s.Accepting,
		LastSeen: s.LastSeen, PlacedSinceHeartbeat: s.PlacedSince, Placing: s.Placing, Workers: []wire.ClusterWorker{},
		RelayRooms: s.RelayRooms, RelayPeers: s.RelayPeers, Spare: s.SpareFor(), StartedAt: s.StartedAt,
		HeartbeatAge: now.Sub(s.LastSeen).Seconds(), ProbeAnsweredAt: s.VouchedAt}
	for _, w := range s.Workers {
		cs.Workers = append(cs.Workers, wire.ClusterWorker{Index: w.Index, Ready: w.Ready, Load: w.Load, Capacity: w.Capacity, Stress: w.Stress})
	}
	return cs
}

// ready is /readyz: 503 only while the directory is unreachable, which no
// request can do without. The broker's state is in the body but fails no
// probe: off the broker the API still answers joins into rooms with a live
// home and reads, and answers what needs the broker with bus_unavailable at
// once; a readiness failure would take every replica out of its load
// balancer together in a broker outage (docs/deploy.md).
func (s *Service) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := s.p.Directory.Check(ctx)
	live := 0
	for _, srv := range s.reg.Snapshot() {
		if !srv.Dead {
			live++
		}
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"directory": s.p.Directory.Kind(), "directory_ok": err == nil, "servers_live": live,
		"bus": s.o.busState(time.Now())})
}
