// Package service is `voicectl api`: the HTTP front door for apps in cluster
// mode (docs/api.md). It creates rooms through the bus, placing each on the
// least-stressed live server, keeps room → server in the directory, hands out
// join tokens and signalling URLs, keeps a registry of servers from their
// heartbeats, and re-homes the rooms of a server that died.
package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/api/registry"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// Params configures a Service.
type Params struct {
	Logger    *slog.Logger
	Bus       bus.Bus
	Directory *directory.Directory
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
}

// ID is how the API signs its bus requests.
const ID cluster.ServerID = "api"

// Service is the running API.
type Service struct {
	p   Params
	log *slog.Logger
	reg *registry.Registry
	m   *metrics
	sub bus.Subscription

	stop chan struct{}
	// life ends with Stop: background moves give up with it.
	life    context.Context
	endLife context.CancelFunc
	wg      sync.WaitGroup
	// rooms is the per-room state of re-homes and moves, dropped once
	// settled.
	rooms   *roomStates
	moveNow chan struct{}
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
	s := &Service{p: p, log: p.Logger, reg: registry.New(p.DeadAfter), stop: make(chan struct{}), moveNow: make(chan struct{}, 1),
		keyAttempts: auth.NewAttempts(wire.KeyAttemptsPerSecond, wire.KeyAttemptsBurst),
		rooms:       newRoomStates(max(p.Heartbeat, p.RebalanceCooldown))}
	s.life, s.endLife = context.WithCancel(context.Background())
	s.m = newMetrics(p.Registerer, s.reg)
	return s
}

// Registry is the live view of the servers.
func (s *Service) Registry() *registry.Registry { return s.reg }

// Start subscribes to heartbeats and starts the failover loop.
func (s *Service) Start() error {
	sub, err := s.p.Bus.Subscribe("heartbeat.*", s.onHeartbeat)
	if err != nil {
		return err
	}
	s.sub = sub
	s.wg.Add(2)
	go s.failoverLoop()
	go s.moveLoop()
	return nil
}

// Stop ends the failover loop and the subscription.
func (s *Service) Stop() {
	close(s.stop)
	s.endLife()
	s.wg.Wait()
	if s.sub != nil {
		_ = s.sub.Cancel()
	}
}

func (s *Service) onHeartbeat(e bus.Envelope) {
	if e.Type != bus.TypeHeartbeat {
		return
	}
	var hb cluster.Heartbeat
	if err := json.Unmarshal(e.Body, &hb); err != nil || hb.Server == "" || hb.Server != e.From {
		s.m.badHeartbeats.Inc()
		return
	}
	if s.reg.Observe(hb, time.Now()) {
		s.log.Warn("a server declared dead is back", "server", hb.Server)
	}
	if hb.Draining && len(hb.Rooms) > 0 {
		s.wakeMover()
	}
	if len(hb.Rooms) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.releaseMoved(hb)
		}()
	}
}

// releaseMoved tells a server to give up the rooms it still hosts that the
// directory has moved elsewhere (it came back after being declared dead), so
// no room is served from two hosts.
func (s *Service) releaseMoved(hb cluster.Heartbeat) {
	ctx, cancel := context.WithTimeout(s.life, s.p.CreateTimeout)
	defer cancel()
	for _, name := range hb.Rooms {
		// Only a room the directory has on another server is given up: one it
		// does not have yet may be a create whose answer is being recorded.
		r, err := s.p.Directory.Get(ctx, name)
		if err != nil || r.Server == hb.Server {
			continue
		}
		// Nor one that is being re-homed or moved to it: the new home takes
		// the room before the directory says so, and its heartbeat can come
		// in between.
		if s.rooms.isPlacing(name) || !s.reg.Live(r.Server) {
			continue
		}
		reason := "moved"
		if _, err := bus.ReleaseRoom.Call(ctx, s.p.Bus, bus.ToServer(hb.Server), ID, "", cluster.RoomRef{Room: name, Reason: reason}); err != nil {
			s.log.Warn("could not make a server give up a moved room", "server", hb.Server, "room", name, "err", err)
			continue
		}
		s.log.Info("server gave up a room the directory has elsewhere", "server", hb.Server, "room", name, "reason", reason)
	}
}

func (s *Service) failoverLoop() {
	defer s.wg.Done()
	tk := time.NewTicker(max(s.p.Heartbeat/4, 50*time.Millisecond))
	defer tk.Stop()
	health, _ := s.p.Bus.(bus.Health)
	var seen uint64
	if health != nil {
		seen = health.Reconnects()
	}
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
		}
		if health != nil {
			// Heartbeats missed while the API itself was cut off from
			// RabbitMQ say nothing about the servers: declaring them dead
			// would re-home every room of the cluster at each broker restart.
			if !health.Connected() {
				continue
			}
			if n := health.Reconnects(); n != seen {
				seen = n
				s.reg.Excuse(time.Now())
				s.log.Info("back on the bus: servers get dead_after to be heard again")
				continue
			}
		}
		for _, id := range s.reg.Reap(time.Now()) {
			s.log.Warn("server declared dead; re-homing its rooms", "server", id, "silent_for", s.p.DeadAfter)
			s.rehomeServer(id)
		}
	}
}

// rehomeServer moves every room of a dead server to live ones.
func (s *Service) rehomeServer(dead cluster.ServerID) {
	ctx, cancel := context.WithTimeout(s.life, 4*s.p.CreateTimeout)
	defer cancel()
	rooms, err := s.p.Directory.List(ctx, dead)
	if err != nil {
		s.log.Error("cannot list a dead server's rooms", "server", dead, "err", err)
		return
	}
	for _, r := range rooms {
		if _, err := s.rehome(ctx, r.Name, dead); err != nil {
			s.log.Error("room not re-homed", "room", r.Name, "from", dead, "err", err)
		}
	}
}

// rehome places a room whose server is dead on a live one and moves it in the
// directory (only if it is still on the dead one).
func (s *Service) rehome(ctx context.Context, room string, from cluster.ServerID) (cluster.RoomInfo, error) {
	defer s.rooms.lockRehome(room)()
	if cur, err := s.p.Directory.Get(ctx, room); err == nil && cur.Server != from && s.reg.Live(cur.Server) {
		return s.info(cur), nil // someone moved it meanwhile
	}
	defer s.rooms.markPlacing(room)()
	info, err := s.place(ctx, room, from)
	if err != nil {
		return cluster.RoomInfo{}, err
	}
	moved, err := s.p.Directory.Move(ctx, room, from, info.Server)
	if err != nil {
		return cluster.RoomInfo{}, err
	}
	if moved {
		s.m.rehomed.Inc()
		s.log.Info("room re-homed", "room", room, "from", from, "to", info.Server)
	}
	return info, nil
}

// info is a directory entry with its server's signalling URL.
func (s *Service) info(r directory.Room) cluster.RoomInfo {
	srv, _ := s.reg.Get(r.Server)
	return cluster.RoomInfo{Room: r.Name, Server: r.Server, SignalURL: srv.SignalURL}
}
