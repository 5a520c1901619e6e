package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/voicectl/voicectl/api/registry"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// DrainRequest is the body of POST /v1/servers/{id}/drain; Deadline is a Go
// duration ("5m"), empty for the server's drain.deadline.
type DrainRequest struct {
	Deadline string `json:"deadline,omitempty"`
}

// drainServer tells a server to drain: it takes nothing new, the API moves
// its rooms away (moveAway), and it exits when empty or at the deadline.
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
	srv, known := s.reg.Get(id)
	switch {
	case !known:
		httpError(w, http.StatusNotFound, CodeServerUnknown, "no server "+string(id)+" in the registry")
		return
	case srv.Dead:
		httpError(w, http.StatusConflict, CodeServerDead, "server "+string(id)+" is dead")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.p.CreateTimeout)
	defer cancel()
	res, err := bus.Drain.Call(ctx, s.p.Bus, bus.ToServer(id), ID, "", cluster.DrainRequest{Deadline: deadline})
	if err != nil {
		httpError(w, http.StatusBadGateway, wire.CodeInternal, "server "+string(id)+" did not answer the drain: "+err.Error())
		return
	}
	s.reg.MarkDraining(id)
	s.log.Info("server draining", "server", id, "until", res.Until, "peers", res.Peers)
	s.wakeMover()
	writeJSON(w, http.StatusOK, wire.ClusterDrain{Server: string(id), Until: res.Until, Peers: res.Peers})
}

// wakeMover makes moveLoop look at the servers now, not at its next tick.
func (s *Service) wakeMover() {
	select {
	case s.moveNow <- struct{}{}:
	default:
	}
}

// moveLoop moves rooms off draining servers and, with cluster.rebalance,
// off servers above high water, as heartbeats show them.
func (s *Service) moveLoop() {
	defer s.wg.Done()
	tk := time.NewTicker(max(s.p.Heartbeat/2, 100*time.Millisecond))
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
		case <-s.moveNow:
		}
		s.rooms.sweep(time.Now())
		for _, srv := range s.reg.Snapshot() {
			switch {
			case srv.Dead:
			case srv.Draining:
				s.moveAway(srv)
			case s.p.Rebalance && srv.Stress > s.p.HighWater:
				s.rebalance(srv)
			}
		}
	}
}

// moveAway moves every room the directory has on a draining server to the
// freest server it fits on; a room with nowhere to go stays until a later
// try, or the drain's deadline.
func (s *Service) moveAway(srv registry.Server) {
	ctx, cancel := context.WithTimeout(s.life, 4*s.p.CreateTimeout)
	defer cancel()
	rooms, err := s.p.Directory.List(ctx, srv.Server)
	if err != nil {
		s.log.Error("cannot list a draining server's rooms", "server", srv.Server, "err", err)
		return
	}
	for _, r := range rooms {
		if ctx.Err() != nil {
			return
		}
		if s.rooms.isPlacing(r.Name) || !s.rooms.retryDue(r.Name, s.p.Heartbeat, time.Now()) {
			continue
		}
		if _, err := s.move(ctx, r, "", "drain"); err != nil {
			// Said once per room and drain; the tries go on quietly.
			level := slog.LevelDebug
			if s.rooms.stuckOnce(r.Name) {
				level = slog.LevelWarn
			}
			s.log.Log(ctx, level, "room of a draining server not moved yet; trying again", "room", r.Name, "server", srv.Server, "err", err)
			continue
		}
		s.rooms.unstuck(r.Name)
	}
}

// rebalance moves one room off a server above high water: the largest that
// fits whole on another server with cluster.move_margin to spare and has not
// moved within cluster.rebalance_cooldown. One per server per look: the next
// heartbeat shows what it relieved.
func (s *Service) rebalance(srv registry.Server) {
	names := make([]string, 0, len(srv.RoomLoads))
	for name := range srv.RoomLoads {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return srv.RoomLoads[b] - srv.RoomLoads[a] })
	all := s.reg.Snapshot()
	ctx, cancel := context.WithTimeout(s.life, 2*s.p.CreateTimeout)
	defer cancel()
	for _, name := range names {
		if s.rooms.isPlacing(name) || s.rooms.cooling(name, s.p.RebalanceCooldown, time.Now()) {
			continue
		}
		if _, ok := registry.MoveTarget(all, srv.Server, srv.RoomLoads[name], s.p.MoveMargin); !ok {
			continue
		}
		r, err := s.p.Directory.Get(ctx, name)
		if err != nil || r.Server != srv.Server {
			continue
		}
		s.rooms.markMoved(name, time.Now())
		if _, err := s.move(ctx, r, "", "rebalance"); err != nil {
			s.log.Warn("rebalance move failed", "room", name, "server", srv.Server, "err", err)
		}
		return
	}
}
