// Package service is `voicectl api`: the HTTP front door for apps in cluster
// mode (docs/api.md). It creates rooms through the bus, placing each on the
// least-stressed live server, keeps room → server in the directory, hands out
// join tokens and signalling URLs, keeps a registry of servers from their
// heartbeats, and re-homes the rooms of a server that died.
//
// Two layers: Service is the HTTP API (http*.go: routes, keys, bodies, and
// the one mapping of errors to codes), Orchestrator decides where rooms live
// (place, re-home, move, drain, rebalance) and answers typed errors
// (errors.go).
package service

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
	"github.com/voicectl/voicectl/server/wire"
)

// Params configures a Service.
type Params struct {
	Logger    *slog.Logger
	Bus       bus.Bus
	Directory directory.Directory
	// Secret signs join tokens (the servers' auth.secret); APIKey is the
	// apps' bearer key.
	Secret []byte
	APIKey string
	// HighWater: servers above it get no new rooms.
	HighWater     float64
	Heartbeat     time.Duration
	DeadAfter     time.Duration
	CreateTimeout time.Duration
	// MoveMargin: a room moves only to a server with its load × (1 +
	// MoveMargin) spare (cluster.move_margin).
	MoveMargin float64
	// Rebalance moves a room off a server above high water when it fits whole
	// elsewhere, at most once per RebalanceCooldown (cluster.rebalance).
	Rebalance         bool
	RebalanceCooldown time.Duration
	// TokenTTL is the default lifetime of a join token.
	TokenTTL   time.Duration
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Version    string
	// Dev serves GET /v1/dev/join without a key, for the browser page.
	Dev bool
	// Events receives room_moved and server_dead (nil: none; webhooks.go).
	Events Events
	// Probe reaches a server silent on the bus over another channel before
	// it is declared dead (HTTPProbe); nil: silence alone declares it dead.
	Probe Probe
}

// ID is how the API signs its bus requests.
const ID cluster.ServerID = "api"

// Service is the running API: the HTTP layer over an Orchestrator.
type Service struct {
	p   Params
	log *slog.Logger
	reg *registry.Registry
	m   *metrics
	o   *Orchestrator
	// keyAttempts bounds wrong API keys per address.
	keyAttempts *auth.Attempts
}

// New prepares a service; Start begins listening to heartbeats.
func New(p Params) *Service {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Registerer == nil {
		r := prometheus.NewRegistry()
		p.Registerer, p.Gatherer = r, r
	}
	reg := registry.New(p.DeadAfter)
	m := newMetrics(p.Registerer, reg)
	return &Service{p: p, log: p.Logger, reg: reg, m: m, o: newOrchestrator(p, reg, m),
		keyAttempts: auth.NewAttempts(wire.KeyAttemptsPerSecond, wire.KeyAttemptsBurst)}
}

// Registry is the live view of the servers.
func (s *Service) Registry() *registry.Registry { return s.reg }

// Start subscribes to heartbeats and starts the failover and move loops.
func (s *Service) Start() error { return s.o.Start() }

// Stop ends the loops and the subscription.
func (s *Service) Stop() { s.o.Stop() }
