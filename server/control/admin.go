package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/voicectl/voicectl/internal/procstat"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/supervisor"
	"github.com/voicectl/voicectl/server/wire"
)

// adminHandler serves /admin/v1 (docs/admin-api.md) behind the admin key.
func (c *Control) adminHandler(mux *http.ServeMux) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, c.requireAdmin(f)) }
	h("GET /admin/v1/workers", c.adminWorkers)
	h("GET /admin/v1/rooms", c.adminRooms)
	h("GET /admin/v1/rooms/{room}", c.adminRoom)
	h("DELETE /admin/v1/rooms/{room}", c.adminCloseRoom)
	h("POST /admin/v1/rooms/{room}/close", c.adminCloseRoom)
	h("POST /admin/v1/rooms/{room}/peers/{peer}/kick", c.adminKick)
	h("DELETE /admin/v1/rooms/{room}/peers/{peer}", c.adminKick)
	h("POST /admin/v1/rooms/{room}/peers/{peer}/mute", c.adminMute)
	h("GET /admin/v1/pipes", c.adminPipes)
	h("POST /admin/v1/drain", c.adminDrain)
	h("GET /admin/v1/process", c.adminProcess)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		mux.Handle(m+" /admin/{rest...}", c.requireAdmin(func(w http.ResponseWriter, r *http.Request) {
			httpError(w, http.StatusNotFound, wire.CodeNotFound, "no admin endpoint "+r.Method+" "+r.URL.Path)
		}))
	}
}

func (c *Control) requireAdmin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.adminKey == "" {
			httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "the admin API is disabled: set auth.admin_key")
			return
		}
		if c.keyAttempts.Blocked(r.RemoteAddr) {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusTooManyRequests, wire.CodeRateLimited, "too many wrong admin keys from this address; wait and try again")
			return
		}
		got := bearerHeader(r)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.adminKey)) != 1 {
			c.metrics.adminAuthFailures.Inc()
			if c.keyAttempts.Failed(r.RemoteAddr) {
				c.log.Warn("wrong admin key (said once a minute per address)", "remote", r.RemoteAddr)
			}
			httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "missing or wrong admin key")
			return
		}
		next(w, r)
	})
}

func (c *Control) adminWorkers(w http.ResponseWriter, r *http.Request) {
	reserved := c.host.Loads()
	out := make([]wire.AdminWorker, 0, c.sup.Len())
	for i, st := range c.sup.Workers() {
		ref := c.sup.Ref(i)
		aw := wire.AdminWorker{Index: i, PID: st.PID, Port: st.Port, Ready: st.Ready, Restarts: st.Restarts,
			ReservedLoad: reserved[ref].Units(), Capacity: c.cfg.Worker.MaxConsumers}
		if st.Ready {
			// A stopped or hung worker must not hang the listing: its
			// figures stay 0 until it answers (or worker.hang_timeout
			// has it restarted).
			lctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			l, err := c.sup.Client(ref).Load(lctx)
			cancel()
			if err == nil {
				aw.Routers, aw.Transports, aw.Producers, aw.Consumers = l.Routers, l.Transports, l.Producers, l.Consumers
				aw.Pipes, aw.PipeConsumers, aw.PipeProducers = l.Pipes, l.PipeConsumers, l.PipeProducers
				aw.PacketsIn, aw.PacketsOut = l.PacketsIn, l.PacketsOut
				aw.ForwardDelayMsP50, aw.ForwardDelayMsP99 = l.ForwardDelayMsP50, l.ForwardDelayMsP99
				aw.ForwardDelayBuckets = l.ForwardDelayBuckets
				aw.HeapAllocs, aw.Goroutines, aw.HeapBytes = l.HeapAllocs, l.Goroutines, l.HeapBytes
				aw.Load = l.Consumers + l.Producers + l.PipeConsumers
			}
			if cpu, err := procstat.CPUSeconds(st.PID); err == nil {
				aw.CPUSeconds = cpu
			}
			aw.RSSBytes, _ = procstat.RSSBytes(st.PID)
			aw.OpenFiles, _ = procstat.OpenFiles(st.PID)
			if smp, ok := c.sup.LastSample(i); ok && smp.PID == st.PID {
				aw.PacketsInPerSecond, aw.PacketsOutPerSecond, aw.CPUPercent = smp.InRate, smp.OutRate, smp.CPUPercent
			}
		}
		aw.Stress = float64(max(aw.Load, aw.ReservedLoad)) / float64(aw.Capacity)
		out = append(out, aw)
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Control) adminRooms(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.host.Rooms())
}

// notFound answers a room or peer the host does not know.
func notFound(w http.ResponseWriter, err error) bool {
	if errors.Is(err, roomhost.ErrNotFound) {
		httpError(w, http.StatusNotFound, wire.CodeNotFound, err.Error())
		return true
	}
	return false
}

func (c *Control) adminRoom(w http.ResponseWriter, req *http.Request) {
	d, err := c.host.Room(req.PathValue("room"))
	if notFound(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (c *Control) adminCloseRoom(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("room")
	n, err := c.host.CloseRoom(name)
	if notFound(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("room %s closed; %d peers removed", name, n)})
}

func (c *Control) adminKick(w http.ResponseWriter, req *http.Request) {
	p, err := c.host.Kick(req.PathValue("room"), req.PathValue("peer"))
	if notFound(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("peer %s (%s) kicked", p.ID, p.Identity)})
}

func (c *Control) adminMute(w http.ResponseWriter, req *http.Request) {
	var body wire.AdminMute
	if req.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4096)).Decode(&body); err != nil {
			httpError(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
			return
		}
	}
	muted := body.Muted == nil || *body.Muted
	p, err := c.host.MutePeer(req.PathValue("room"), req.PathValue("peer"), muted)
	if notFound(w, err) {
		return
	}
	if err != nil {
		status, code := http.StatusInternalServerError, wire.CodeInternal
		if errors.Is(err, ErrNotProducer) {
			status, code = http.StatusConflict, wire.CodePublishNotAllowed
		}
		httpError(w, status, code, err.Error())
		return
	}
	word := "muted"
	if !muted {
		word = "unmuted"
	}
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("peer %s (%s) %s", p.ID, p.Identity, word)})
}

// adminDrain starts this server's drain (body {"deadline": "5m"}, or none for
// drain.deadline): what SIGTERM does, for a preStop hook or an operator.
func (c *Control) adminDrain(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Deadline string `json:"deadline"`
	}
	if req.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			httpError(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
			return
		}
	}
	var d time.Duration
	if body.Deadline != "" {
		var err error
		if d, err = time.ParseDuration(body.Deadline); err != nil || d <= 0 {
			httpError(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("deadline %q is not a positive duration like 5m", body.Deadline))
			return
		}
	}
	until := c.Drain(d)
	_, peers := c.host.Counts()
	writeJSON(w, http.StatusOK, wire.ClusterDrain{Server: string(c.serverID), Until: until, Peers: peers})
}

func (c *Control) adminProcess(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, supervisor.ProcessStats())
}

func (c *Control) adminPipes(w http.ResponseWriter, _ *http.Request) {
	out := c.host.Pipes()
	slices.SortFunc(out, func(a, b wire.AdminPipe) int { return strings.Compare(a.Room+a.ID, b.Room+b.ID) })
	writeJSON(w, http.StatusOK, out)
}
