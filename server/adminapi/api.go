// Package adminapi serves a server's admin API (/admin/v1, docs/admin-api.md)
// behind the admin key: the workers, rooms and pipes, closing rooms, kicking
// and muting peers, and draining the server.
package adminapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/wire"
)

// Params configures an API.
type Params struct {
	Logger *slog.Logger
	// Key is the admin key; empty disables the API (every request is
	// answered 401).
	Key string
	// Registerer receives voicectl_admin_auth_failures_total.
	Registerer prometheus.Registerer
	Rooms      Rooms
	Workers    Workers
	// Capacity is a worker's capacity in load units (worker.max_consumers).
	Capacity int
	ServerID cluster.ServerID
	// Drain starts the server's drain (0: drain.deadline) and returns its
	// deadline.
	Drain func(deadline time.Duration) time.Time
}

// API is the admin API's handlers.
type API struct {
	p            Params
	log          *slog.Logger
	keyAttempts  *auth.Attempts
	authFailures prometheus.Counter
}

// New prepares the admin API and registers its metric.
func New(p Params) *API {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{p: p, log: p.Logger,
		// keyAttempts bounds wrong admin keys per address.
		keyAttempts: auth.NewAttempts(wire.KeyAttemptsPerSecond, wire.KeyAttemptsBurst),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "voicectl", Subsystem: "admin", Name: "auth_failures_total",
			Help: "Admin API requests refused for a missing or wrong admin key.",
		}),
	}
	p.Registerer.MustRegister(a.authFailures)
	return a
}

// Register adds the admin endpoints to mux; any other path under /admin
// is answered 404 (after the key check).
func (a *API) Register(mux *http.ServeMux) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, a.requireKey(f)) }
	h("GET /admin/v1/workers", a.workers)
	h("GET /admin/v1/rooms", a.rooms)
	h("GET /admin/v1/rooms/{room}", a.room)
	h("DELETE /admin/v1/rooms/{room}", a.closeRoom)
	h("POST /admin/v1/rooms/{room}/close", a.closeRoom)
	h("POST /admin/v1/rooms/{room}/peers/{peer}/kick", a.kick)
	h("DELETE /admin/v1/rooms/{room}/peers/{peer}", a.kick)
	h("POST /admin/v1/rooms/{room}/peers/{peer}/mute", a.mute)
	h("GET /admin/v1/pipes", a.pipes)
	h("POST /admin/v1/drain", a.drain)
	h("GET /admin/v1/process", a.process)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		mux.Handle(m+" /admin/{rest...}", a.requireKey(func(w http.ResponseWriter, r *http.Request) {
			httpx.Error(w, http.StatusNotFound, wire.CodeNotFound, "no admin endpoint "+r.Method+" "+r.URL.Path)
		}))
	}
}
