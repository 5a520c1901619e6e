// Package control is the control process of `voicectl serve`, as wiring: it
// builds the worker supervisor, the room host, the signalling, the admin API
// and, in a cluster, the agent and both sides of relays, serves HTTP, joins
// the cluster and drains (docs/architecture.md). It never touches RTP.
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/adminapi"
	"github.com/voicectl/voicectl/server/agent"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/relay"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/signal"
	"github.com/voicectl/voicectl/server/supervisor"
	"github.com/voicectl/voicectl/server/turnserver"
	"github.com/voicectl/voicectl/server/webhook/delivery"
)

// Params configures a Control.
type Params struct {
	Config    config.Config
	Logger    *slog.Logger
	WorkerCmd supervisor.WorkerCommand
	// Listener, when set, is used instead of listening on Config.HTTP.Addr.
	Listener net.Listener
	Version  string
	// Registerer receives the server's metrics and Gatherer serves them at
	// /metrics; both nil means a private registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// ServerID names this server's workers; cluster.Local when empty.
	ServerID cluster.ServerID
	// Bus, when set, puts the server in a cluster: it hosts only the rooms
	// placed on it, takes rooms from the shared queue below high water and
	// publishes heartbeats.
	Bus bus.Bus
}

// callTimeout bounds one request to a worker.
const callTimeout = 5 * time.Second

// Control is the running server: it wires the worker processes, the room host
// and HTTP together.
type Control struct {
	cfg      config.Config
	log      *slog.Logger
	secret   []byte
	version  string
	listener net.Listener

	serverID cluster.ServerID
	sup      *supervisor.Supervisor
	host     *roomhost.Host
	bus      bus.Bus
	// agent is set once the server has joined the cluster, under drainMu
	// (Drain reads it).
	agent *agent.Agent
	// borrower finds relay routers on other servers for this server's
	// rooms, lending serves this server's routers to other owners; both nil
	// outside a cluster.
	borrower *relay.Borrower
	lending  *relay.Lending

	metrics  *metrics
	gatherer prometheus.Gatherer
	adminKey string
	admin    *adminapi.API
	signal   *signal.Server
	// turn is the embedded TURN server, nil unless turn.enabled (turn.go).
	turn *turnserver.Server
	// webhooks sends the rooms' events, nil unless webhooks.urls is set
	// (webhooks.go).
	webhooks *delivery.Sender

	// startedAt tells a restarted server from the one before it (heartbeats).
	startedAt time.Time

	// drainUntil is the running drain's deadline (zero: none); drained is
	// closed when it has ended.
	drainMu    sync.Mutex
	drainUntil time.Time
	drained    chan struct{}
}

// New validates params and prepares a server; Run starts it.
func New(p Params) (*Control, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.WorkerCmd == nil {
		return nil, errors.New("control: WorkerCmd is required")
	}
	secret := []byte(p.Config.Auth.Secret)
	if len(secret) == 0 {
		if !p.Config.Dev {
			return nil, errors.New("control: auth.secret must be set outside dev mode")
		}
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		secret = []byte(hex.EncodeToString(b))
	}
	c := &Control{
		startedAt: time.Now().UTC(),
		drained:   make(chan struct{}),
		cfg:       p.Config,
		log:       p.Logger,
		secret:    secret,
		version:   p.Version,
		listener:  p.Listener,
		serverID:  p.ServerID,
		bus:       p.Bus,
		adminKey:  p.Config.Auth.AdminKey,
	}
	if c.serverID == "" {
		c.serverID = cluster.Local
	}
	if c.adminKey == "" && p.Config.Dev {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		c.adminKey = hex.EncodeToString(b)
	}
	if p.Registerer == nil {
		reg := prometheus.NewRegistry()
		p.Registerer, p.Gatherer = reg, reg
	}
	c.metrics = newMetrics(p.Registerer)
	c.registerLeaseMetric(p.Registerer)
	sigMetrics := signal.NewMetrics(p.Registerer)
	c.gatherer = p.Gatherer
	c.sup = supervisor.New(supervisor.Params{Logger: p.Logger, Worker: p.Config.Worker, RTC: p.Config.RTC,
		Count: p.Config.EffectiveWorkers(), ServerID: c.serverID, Command: p.WorkerCmd,
		OnEvent: c.workerEvent, OnLost: func(ref cluster.WorkerRef) { c.host.WorkerLost(ref) }})
	var hostRelays roomhost.Relays
	if p.Bus != nil {
		c.borrower = relay.NewBorrower(relay.BorrowerParams{Logger: p.Logger, ServerID: c.serverID, Bus: p.Bus,
			HighWater: p.Config.Cluster.HighWater, MaxForwardedSpeakers: p.Config.Room.MaxForwardedSpeakers,
			OnEvent: func(from cluster.WorkerRef, ev ipc.Event) { c.host.HandleEvent(from, ev) }})
		hostRelays = c.borrower
	}
	var err error
	c.webhooks, err = newWebhooks(p.Config, p.Logger, p.Registerer, p.Bus, c.serverID)
	if err != nil {
		return nil, fmt.Errorf("webhooks queue in data_dir: %w", err)
	}
	var events roomhost.Events
	if c.webhooks != nil {
		events = c.webhooks
	}
	c.host = roomhost.New(roomhost.Params{
		Logger:  p.Logger,
		Workers: c.sup,
		Limits: placement.Limits{MaxConsumers: p.Config.Worker.MaxConsumers, MaxProducers: p.Config.Worker.MaxProducers,
			Headroom: p.Config.Worker.PipeHeadroom, MaxForwardedSpeakers: p.Config.Room.MaxForwardedSpeakers},
		PipeListenIP:   p.Config.Worker.PipeListenIP,
		CallTimeout:    callTimeout,
		OnNoCapacity:   c.metrics.noCapacity.Inc,
		RequireClaim:   p.Bus != nil,
		Relays:         hostRelays,
		ClusterPipeIP:  p.Config.ClusterPipeIP(),
		PipeSRTP:       p.Config.Cluster.PipeSRTP,
		MediaTimeout:   p.Config.Signal.JoinTimeout,
		OnMediaTimeout: sigMetrics.Limited(signal.LimitMediaTimeout).Inc,
		TURN:           turnPaths{c},
		Events:         events,
		Server:         c.serverID,
	})
	if p.Bus != nil {
		c.lending = relay.NewLending(relay.LendingParams{Logger: p.Logger, ServerID: c.serverID, Bus: p.Bus,
			Lent: c.host.Lender(), Workers: c.sup})
	}
	turn, err := newTURN(p.Config, c, p.Registerer)
	if err != nil {
		c.stopWebhooks(0)
		return nil, err
	}
	c.turn = turn
	ice, err := c.newICEServers(p.Config)
	if err != nil {
		c.stopWebhooks(0)
		return nil, err
	}
	c.signal = signal.New(signal.Params{Logger: p.Logger, Config: p.Config.Signal, Secret: secret,
		MoveGrace: p.Config.Cluster.MoveGrace, ServerID: c.serverID, Rooms: c.host, Metrics: sigMetrics,
		CallTimeout: callTimeout, Clustered: p.Bus != nil, OnNoCapacity: c.metrics.noCapacity.Inc,
		ICEServers: ice})
	c.admin = adminapi.New(adminapi.Params{Logger: p.Logger, Key: c.adminKey, Registerer: p.Registerer,
		Rooms: c.host, Workers: c.sup, Capacity: p.Config.Worker.MaxConsumers, ServerID: c.serverID, Drain: c.Drain})
	collector := workerCollector{sup: c.sup, host: c.host, capacity: p.Config.Worker.MaxConsumers}
	if p.Bus != nil {
		collector.pipes = &pipeTotals{}
	}
	p.Registerer.MustRegister(collector, pathCollector{host: c.host})
	return c, nil
}

// AdminKey is the admin API key in use (generated in dev mode when none is set).
func (c *Control) AdminKey() string { return c.adminKey }

// Secret is the join-token signing key in use (the generated one in dev mode).
func (c *Control) Secret() []byte { return c.secret }

// Addr is the HTTP listener's address, once Run has started listening.
func (c *Control) Addr() string {
	if c.listener == nil {
		return ""
	}
	return c.listener.Addr().String()
}

// Start launches the workers and the HTTP listener; it returns once all workers are
// ready. The returned function stops everything and waits for it.
func (c *Control) Start(ctx context.Context) (stop func(), err error) {
	if c.listener == nil {
		l, err := net.Listen("tcp", c.cfg.HTTP.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", c.cfg.HTTP.Addr, err)
		}
		c.listener = l
	}
	if c.turn != nil {
		if err := c.turn.Start(); err != nil {
			c.host.Stop()
			c.stopWebhooks(0)
			_ = c.listener.Close()
			return nil, err
		}
	}
	stopWorkers, err := c.sup.Start()
	if err != nil {
		_ = c.turn.Close()
		c.host.Stop()
		c.stopWebhooks(0)
		_ = c.listener.Close()
		return nil, err
	}

	// The header timeout cuts slowloris clients; IdleTimeout closes kept-alive
	// connections nobody uses (upgraded WebSockets are the session's).
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: c.cfg.Signal.ReadHeaderTimeout, IdleTimeout: 2 * time.Minute}
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		if err := srv.Serve(c.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("http server failed", "err", err)
		}
	}()
	samplerStop := make(chan struct{})
	go c.sup.RunSampler(samplerStop)
	if c.bus != nil {
		c.sup.SampleAll() // heartbeats start from measured loads
		if err := c.startAgent(); err != nil {
			close(samplerStop)
			_ = srv.Close()
			<-srvDone
			stopWorkers()
			_ = c.turn.Close()
			c.host.Stop()
			c.stopWebhooks(0)
			return nil, err
		}
	}
	c.log.Info("voice server listening", "http", c.listener.Addr().String(), "workers", c.sup.Len())
	var once sync.Once
	return func() { once.Do(func() { c.shutdown(srv, srvDone, samplerStop, stopWorkers) }) }, nil
}

// shutdown stops taking joins and the cluster's rooms, tells every client to
// reconnect, and stops the workers.
func (c *Control) shutdown(srv *http.Server, srvDone, samplerStop chan struct{}, stopWorkers func()) {
	c.host.Drain()
	if c.agent != nil {
		c.agent.Stop()
	}
	if c.lending != nil {
		// after the sessions' leaves reached the relays
		defer c.lending.Close()
		defer c.borrower.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	c.signal.CloseAll()
	<-srvDone
	close(samplerStop)
	if err := c.turn.Close(); err != nil {
		c.log.Warn("turn server close", "err", err)
	}
	stopWorkers()
	c.host.Stop()
	c.stopWebhooks(webhookFlush)
}

// Workers reports every worker's supervision state.
func (c *Control) Workers() []supervisor.WorkerStatus { return c.sup.Workers() }

// workerEvent hands a worker's event to the relays (an event of a router
// lent to another server's room) or to the room host.
func (c *Control) workerEvent(from cluster.WorkerRef, method string, raw []byte, ev ipc.Event) {
	ev, raw = c.host.ResolvePath(ev, raw) // this server's TURN, before the event leaves for a room's owner
	if c.lending != nil && c.lending.WorkerEvent(from, method, raw, ev) {
		return
	}
	c.host.HandleEvent(from, ev)
}
