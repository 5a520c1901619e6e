// Package config holds the voice server's settings as plain Go values: defaults,
// validation and the list of keys. Loading from files, environment and flags is the
// CLI's job (cmd/), so this package imports no configuration library.
package config

import (
	"fmt"
	"maps"
	"net"
	"runtime"
	"strings"
	"time"
)

// Config is every setting of `voicectl serve`. The mapstructure tags are the config keys.
type Config struct {
	HTTP   HTTP   `mapstructure:"http"`
	RTC    RTC    `mapstructure:"rtc"`
	Worker Worker `mapstructure:"worker"`
	Auth   Auth   `mapstructure:"auth"`
	Signal Signal `mapstructure:"signal"`
	Room   Room   `mapstructure:"room"`
	Admin  Admin  `mapstructure:"admin"`
	Log    Log    `mapstructure:"log"`
	// Bus and Cluster turn on cluster mode (bus.url set).
	Bus     Bus     `mapstructure:"bus"`
	Cluster Cluster `mapstructure:"cluster"`
	// Drain configures how `voicectl serve` empties itself before it exits.
	Drain Drain `mapstructure:"drain"`
	// Turn configures the embedded TURN server (turn.go).
	Turn Turn `mapstructure:"turn"`
	// API configures `voicectl api`.
	API API `mapstructure:"api"`
	// Webhooks configures the events sent to the app's backend (webhooks.go).
	Webhooks Webhooks `mapstructure:"webhooks"`
	// Dev turns on development mode: a generated secret and dev tokens for the browser page.
	Dev bool `mapstructure:"dev"`
	// DataDir keeps state that must survive restarts.
	DataDir string `mapstructure:"data_dir"`
}

// HTTP configures the signalling, admin and health listener.
type HTTP struct {
	Addr string `mapstructure:"addr"`
}

// RTC configures how workers take part in ICE.
type RTC struct {
	// Port is worker 0's UDP port; worker i listens on Port+i.
	Port int `mapstructure:"port"`
	// Interfaces is an allow-list of interface names for ICE candidates; empty means all.
	Interfaces []string `mapstructure:"interfaces"`
	// MDNS enables multicast DNS candidates.
	MDNS bool `mapstructure:"mdns"`
	// AnnouncedIP replaces host candidate addresses (1:1 NAT).
	AnnouncedIP string `mapstructure:"announced_ip"`
	// Loopback allows candidates on loopback interfaces.
	Loopback bool `mapstructure:"loopback"`
	// IPs is an allow-list of local addresses the workers listen on and offer
	// as candidates; empty means every address of the allowed interfaces.
	IPs []string `mapstructure:"ips"`
	// ICEFailedAfter is how long a transport may hear nothing from its peer
	// (no answer to its checks, no media) before it is failed: while a join
	// connects and after an outage mid-call. Until then the worker keeps
	// checking, so a path that starts working is used at once. 0 is the
	// worker's default, 30 s.
	ICEFailedAfter time.Duration `mapstructure:"ice_failed_after"`
	// TCP has each worker also take ICE over TCP (RFC 6544 passive
	// candidates, priced below UDP), for clients whose UDP is blocked.
	TCP bool `mapstructure:"tcp"`
	// RED has the workers offer Opus with redundancy (RFC 2198) beside
	// Opus, first, so that browsers send it; listeners that do not take it
	// get the primary Opus. Off: Opus only, as before.
	RED bool `mapstructure:"red"`
	// TCPPort is worker 0's ICE-TCP port; worker i listens on TCPPort+i.
	// 0 takes the worker's UDP port number (rtc.port+i): TCP and UDP ports
	// do not collide, and a firewall then opens one range for both.
	TCPPort int `mapstructure:"tcp_port"`
	// NACK negotiates generic NACK (RFC 4585 §6.2.1) on audio: the worker
	// re-sends a listener the packets it reports lost, from a short history,
	// and asks publishers for the packets it misses. Off, a figure can be
	// taken without it.
	NACK bool `mapstructure:"nack"`
	// ICEServers are external STUN/TURN servers handed to joined clients
	// after the embedded TURN server's own (config/turn.go).
	ICEServers []ICEServer `mapstructure:"ice_servers"`
}

// WorkerTCPPort is the ICE-TCP port of worker i, 0 when rtc.tcp is off.
func (r RTC) WorkerTCPPort(i int) int {
	switch {
	case !r.TCP:
		return 0
	case r.TCPPort == 0:
		return r.Port + i
	}
	return r.TCPPort + i
}

// Bounds of rtc.ice_failed_after. The worker checks consent every 5 s and
// calls a peer disconnected after two unanswered checks (10 s, RFC 7675 §5.1);
// a transport must outlive that by at least one more check to be failed only
// when consent has really run out. MaxICEFailedAfter keeps the count of checks
// a candidate pair gets (one per 200 ms) within pion's 16-bit limit.
const (
	MinICEFailedAfter = 15 * time.Second
	MaxICEFailedAfter = time.Hour
)

// Worker configures the media worker processes.
type Worker struct {
	// Count is the number of worker processes; 0 means one per core.
	Count int `mapstructure:"count"`
	// RestartBackoff is the pause before a dead worker is started again.
	RestartBackoff time.Duration `mapstructure:"restart_backoff"`
	// HangTimeout is how long a worker may leave control's requests
	// unanswered (stopped, deadlocked) before it is killed and restarted,
	// its peers told to reconnect.
	HangTimeout time.Duration `mapstructure:"hang_timeout"`
	// MaxConsumers is a worker's capacity in load units: consumers + producers +
	// pipe consumers (calibrate with `voicectl loadgen calibrate`).
	MaxConsumers int `mapstructure:"max_consumers"`
	// MaxProducers caps producers (local and piped) on one worker.
	MaxProducers int `mapstructure:"max_producers"`
	// PipeHeadroom is the fraction of MaxConsumers a worker keeps free when a peer is
	// placed on it, for the consumers and pipes that joins elsewhere add to it.
	PipeHeadroom float64 `mapstructure:"pipe_headroom"`
	// PipeListenIP is the address pipe transports between local workers bind to.
	PipeListenIP string `mapstructure:"pipe_listen_ip"`
}

// Room holds per-room media policy.
type Room struct {
	// MaxForwardedSpeakers > 0 forwards only the N loudest speakers to listeners.
	MaxForwardedSpeakers int `mapstructure:"max_forwarded_speakers"`
}

// Admin configures the admin CLI's target.
type Admin struct {
	// URL is the server the admin commands talk to.
	URL string `mapstructure:"url"`
}

// Auth holds the join-token secret.
type Auth struct {
	Secret string `mapstructure:"secret"`
	// AdminKey is the bearer key of the admin API (/admin/v1); empty disables it
	// (in dev mode one is generated).
	AdminKey string `mapstructure:"admin_key"`
	// APIKey is the bearer key apps present to `voicectl api`.
	APIKey string `mapstructure:"api_key"`
	// DevTokenTTL is the lifetime of tokens handed out by the dev token endpoint.
	DevTokenTTL time.Duration `mapstructure:"dev_token_ttl"`
}

// Signal bounds the signalling protocol: what one client, or one address,
// may take of a server.
type Signal struct {
	// MaxMessageBytes is the largest WebSocket message accepted from a client.
	MaxMessageBytes int `mapstructure:"max_message_bytes"`
	// MaxConnections bounds the server's open signalling connections;
	// MaxConnectionsPerAddress those from one remote IP address (0: no
	// bound; behind a proxy every client has the proxy's address).
	MaxConnections           int `mapstructure:"max_connections"`
	MaxConnectionsPerAddress int `mapstructure:"max_connections_per_address"`
	// MaxMessagesPerSecond bounds one connection's messages (a burst of
	// twice as many at once); a client past it is disconnected.
	MaxMessagesPerSecond float64 `mapstructure:"max_messages_per_second"`
	// JoinTimeout bounds a connection without a join, and a peer whose
	// media has not connected (ICE and DTLS) this long after its offer.
	JoinTimeout time.Duration `mapstructure:"join_timeout"`
	// MaxSDPBytes bounds an answer's SDP; MaxCandidates the trickle
	// candidates one connection may send.
	MaxSDPBytes   int `mapstructure:"max_sdp_bytes"`
	MaxCandidates int `mapstructure:"max_candidates"`
	// ReadHeaderTimeout bounds reading an HTTP request's headers (a client
	// sending them slowly holds a connection: slowloris).
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ResumeWindow is how long a peer whose WebSocket dropped without a
	// leave is kept, media flowing, for its client to resume on a new one
	// (docs/signalling.md); 0 ends it at once, as before resume existed.
	ResumeWindow time.Duration `mapstructure:"resume_window"`
}

// Bus is the cluster's RabbitMQ.
type Bus struct {
	// URL is amqp://user:password@host:port/vhost; empty runs single-node.
	// Credentials live in the URL and are never logged.
	URL string `mapstructure:"url"`
}

// Cluster tunes a server's part in the cluster.
type Cluster struct {
	// HighWater is the stress above which the server stops taking new rooms
	// from the shared queue; LowWater the stress below which it takes them again.
	HighWater float64 `mapstructure:"high_water"`
	LowWater  float64 `mapstructure:"low_water"`
	// Heartbeat is how often the server publishes its usage.
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	// DeadAfter is how long a server may miss heartbeats before it counts as dead.
	DeadAfter time.Duration `mapstructure:"dead_after"`
	// CreateTimeout bounds a room create that no server takes.
	CreateTimeout time.Duration `mapstructure:"create_timeout"`
	// PublicURL is where clients reach this server's signalling (http://host:port),
	// handed out by the API with join tokens; default http://<http.addr>.
	PublicURL string `mapstructure:"public_url"`
	// PipeIP is where this server's ends of pipes to other servers listen,
	// and the address other servers send piped audio to; default
	// worker.pipe_listen_ip.
	PipeIP string `mapstructure:"pipe_ip"`
	// PipeSRTP protects pipes between servers with SRTP (keys travel in the
	// bus messages that set the pipes up).
	PipeSRTP bool `mapstructure:"pipe_srtp"`
	// MoveMargin is how much more spare capacity than a room's accounted load
	// a server must have to be picked as the room's new home (0.5: 50% more).
	MoveMargin float64 `mapstructure:"move_margin"`
	// MoveGrace is how long a moved room's old home keeps the peers that have
	// not left yet (they got the move instruction) before it closes them.
	MoveGrace time.Duration `mapstructure:"move_grace"`
	// Rebalance lets the API move a room whose server is above high water to
	// a server where it fits whole (with MoveMargin), instead of growing it
	// over relays; at most once per room per RebalanceCooldown.
	Rebalance         bool          `mapstructure:"rebalance"`
	RebalanceCooldown time.Duration `mapstructure:"rebalance_cooldown"`
}

// Drain bounds a server's drain (SIGTERM, or `voicectl servers drain`).
type Drain struct {
	// Deadline is the longest a drain lasts: rooms still here then are closed
	// with a reconnect instruction.
	Deadline time.Duration `mapstructure:"deadline"`
}

// ClusterPipeIP is cluster.pipe_ip, else worker.pipe_listen_ip.
func (c *Config) ClusterPipeIP() string {
	if c.Cluster.PipeIP != "" {
		return c.Cluster.PipeIP
	}
	return c.Worker.PipeListenIP
}

// API is the cluster's front door for apps.
type API struct {
	// Addr is the API's HTTP listen address.
	Addr string `mapstructure:"addr"`
	// DatabaseURL is postgres://… for a directory shared by several API
	// replicas; empty keeps it in SQLite in data_dir.
	DatabaseURL string `mapstructure:"database_url"`
	// TokenTTL is the default lifetime of the join tokens the API hands out.
	TokenTTL time.Duration `mapstructure:"token_ttl"`
}

// ValidateAPI checks what `voicectl api` needs.
func (c *Config) ValidateAPI() error {
	if _, _, err := net.SplitHostPort(c.API.Addr); err != nil {
		return &KeyError{Key: "api.addr", Err: err}
	}
	if c.Bus.URL == "" {
		return &KeyError{Key: "bus.url", Err: fmt.Errorf("the API needs RabbitMQ (--amqp-url)")}
	}
	if len(c.Auth.Secret) < MinSecretLen {
		return &KeyError{Key: "auth.secret", Err: fmt.Errorf("must be set (at least %d characters): the servers' join-token secret", MinSecretLen)}
	}
	if len(c.Auth.APIKey) < MinSecretLen {
		return &KeyError{Key: "auth.api_key", Err: fmt.Errorf("must be set (at least %d characters): the apps' bearer key", MinSecretLen)}
	}
	if c.API.TokenTTL <= 0 {
		return &KeyError{Key: "api.token_ttl", Err: fmt.Errorf("must be positive")}
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	return c.validateCluster()
}

// ClusterMode reports whether bus.url is set.
func (c *Config) ClusterMode() bool { return c.Bus.URL != "" }

// SignalURL is the URL clients use to reach this server.
func (c *Config) SignalURL() string {
	if c.Cluster.PublicURL != "" {
		return strings.TrimRight(c.Cluster.PublicURL, "/")
	}
	return "http://" + c.HTTP.Addr
}

// Log configures log/slog output.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Defaults returns the documented default for every key.
func Defaults() map[string]any {
	d := map[string]any{
		"http.addr":                          "127.0.0.1:7880",
		"rtc.port":                           50000,
		"rtc.interfaces":                     []string{},
		"rtc.mdns":                           false,
		"rtc.announced_ip":                   "",
		"rtc.loopback":                       true,
		"worker.count":                       0,
		"worker.restart_backoff":             "500ms",
		"worker.hang_timeout":                "10s",
		"auth.secret":                        "",
		"auth.admin_key":                     "",
		"worker.max_consumers":               1000,
		"worker.max_producers":               200,
		"worker.pipe_headroom":               0.1,
		"worker.pipe_listen_ip":              "127.0.0.1",
		"room.max_forwarded_speakers":        0,
		"admin.url":                          "http://127.0.0.1:7880",
		"auth.dev_token_ttl":                 "24h",
		"signal.max_message_bytes":           65536,
		"signal.max_connections":             10000,
		"signal.max_connections_per_address": 256,
		"signal.max_messages_per_second":     50,
		"signal.join_timeout":                "30s",
		"signal.max_sdp_bytes":               32768,
		"signal.max_candidates":              100,
		"signal.read_header_timeout":         "10s",
		"signal.resume_window":               "20s",
		"log.level":                          "info",
		"log.format":                         "auto",
		"dev":                                false,
		"data_dir":                           "./data",
		"bus.url":                            "",
		"cluster.high_water":                 0.8,
		"cluster.low_water":                  0.7,
		"cluster.heartbeat":                  "2s",
		"cluster.dead_after":                 "6s",
		"cluster.create_timeout":             "5s",
		"cluster.public_url":                 "",
		"cluster.pipe_ip":                    "",
		"cluster.pipe_srtp":                  true,
		"cluster.move_margin":                0.5,
		"cluster.move_grace":                 "10s",
		"cluster.rebalance":                  false,
		"cluster.rebalance_cooldown":         "5m",
		"drain.deadline":                     "2m",
		"rtc.ips":                            []string{},
		"rtc.ice_failed_after":               "30s",
		"rtc.red":                            true,
		"rtc.nack":                           true,
		"rtc.tcp":                            true,
		"rtc.tcp_port":                       0,
		"api.addr":                           "127.0.0.1:7870",
		"api.database_url":                   "",
		"api.token_ttl":                      "1h",
		"auth.api_key":                       "",
	}
	maps.Copy(d, turnDefaults())
	maps.Copy(d, webhookDefaults())
	return d
}

// EffectiveWorkers is the number of worker processes to start.
func (c *Config) EffectiveWorkers() int {
	if c.Worker.Count > 0 {
		return c.Worker.Count
	}
	return runtime.NumCPU()
}

// MinSecretLen is the shortest HS256 secret accepted outside dev mode.
const MinSecretLen = 16

// Validate checks values that decode but make no sense; each error names its key.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		return &KeyError{Key: "http.addr", Err: err}
	}
	if c.RTC.Port < 1 || c.RTC.Port > 65535 {
		return &KeyError{Key: "rtc.port", Err: fmt.Errorf("%d is not a UDP port", c.RTC.Port)}
	}
	if c.Worker.Count < 0 {
		return &KeyError{Key: "worker.count", Err: fmt.Errorf("must be >= 0, got %d", c.Worker.Count)}
	}
	if top := c.RTC.Port + c.EffectiveWorkers() - 1; top > 65535 {
		return &KeyError{Key: "rtc.port", Err: fmt.Errorf("worker ports run past 65535 (%d)", top)}
	}
	if c.RTC.TCPPort < 0 || c.RTC.TCPPort > 65535 {
		return &KeyError{Key: "rtc.tcp_port", Err: fmt.Errorf("%d is not a TCP port (0: the workers' UDP port numbers)", c.RTC.TCPPort)}
	}
	if top := c.RTC.WorkerTCPPort(c.EffectiveWorkers() - 1); top > 65535 {
		return &KeyError{Key: "rtc.tcp_port", Err: fmt.Errorf("worker TCP ports run past 65535 (%d)", top)}
	}
	if c.RTC.AnnouncedIP != "" && net.ParseIP(c.RTC.AnnouncedIP) == nil {
		return &KeyError{Key: "rtc.announced_ip", Err: fmt.Errorf("%q is not an IP address", c.RTC.AnnouncedIP)}
	}
	if f := c.RTC.ICEFailedAfter; f != 0 && (f < MinICEFailedAfter || f > MaxICEFailedAfter) {
		return &KeyError{Key: "rtc.ice_failed_after", Err: fmt.Errorf("must be between %s and %s, got %s", MinICEFailedAfter, MaxICEFailedAfter, c.RTC.ICEFailedAfter)}
	}
	if c.Signal.MaxMessageBytes < 1024 {
		return &KeyError{Key: "signal.max_message_bytes", Err: fmt.Errorf("must be >= 1024, got %d", c.Signal.MaxMessageBytes)}
	}
	if err := c.Signal.validate(); err != nil {
		return err
	}
	if c.Worker.HangTimeout < time.Second {
		return &KeyError{Key: "worker.hang_timeout", Err: fmt.Errorf("must be >= 1s, got %s", c.Worker.HangTimeout)}
	}
	if c.Worker.RestartBackoff < 0 {
		return &KeyError{Key: "worker.restart_backoff", Err: fmt.Errorf("must not be negative")}
	}
	if c.Worker.MaxConsumers < 1 {
		return &KeyError{Key: "worker.max_consumers", Err: fmt.Errorf("must be >= 1, got %d", c.Worker.MaxConsumers)}
	}
	if c.Worker.MaxProducers < 1 {
		return &KeyError{Key: "worker.max_producers", Err: fmt.Errorf("must be >= 1, got %d", c.Worker.MaxProducers)}
	}
	if c.Worker.PipeHeadroom < 0 || c.Worker.PipeHeadroom >= 1 {
		return &KeyError{Key: "worker.pipe_headroom", Err: fmt.Errorf("must be in [0, 1), got %v", c.Worker.PipeHeadroom)}
	}
	if net.ParseIP(c.Worker.PipeListenIP) == nil {
		return &KeyError{Key: "worker.pipe_listen_ip", Err: fmt.Errorf("%q is not an IP address", c.Worker.PipeListenIP)}
	}
	if c.Room.MaxForwardedSpeakers < 0 {
		return &KeyError{Key: "room.max_forwarded_speakers", Err: fmt.Errorf("must be >= 0, got %d", c.Room.MaxForwardedSpeakers)}
	}
	if c.Auth.AdminKey != "" && len(c.Auth.AdminKey) < MinSecretLen {
		return &KeyError{Key: "auth.admin_key", Err: fmt.Errorf("must be at least %d characters", MinSecretLen)}
	}
	if c.Auth.DevTokenTTL <= 0 {
		return &KeyError{Key: "auth.dev_token_ttl", Err: fmt.Errorf("must be positive")}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		return &KeyError{Key: "log.level", Err: fmt.Errorf("%q is not one of debug, info, warn, error", c.Log.Level)}
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		return &KeyError{Key: "log.format", Err: fmt.Errorf("%q is not one of auto, text, json", c.Log.Format)}
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if err := c.validateTurn(); err != nil {
		return err
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	if !c.Dev && len(c.Auth.Secret) < MinSecretLen {
		return &KeyError{Key: "auth.secret", Err: fmt.Errorf("must be set (at least %d characters) unless --dev is given", MinSecretLen)}
	}
	return nil
}

func (c *Config) validateCluster() error {
	cl := c.Cluster
	if cl.HighWater <= 0 || cl.HighWater > 1 {
		return &KeyError{Key: "cluster.high_water", Err: fmt.Errorf("must be in (0, 1], got %v", cl.HighWater)}
	}
	if cl.LowWater <= 0 || cl.LowWater > cl.HighWater {
		return &KeyError{Key: "cluster.low_water", Err: fmt.Errorf("must be in (0, cluster.high_water], got %v", cl.LowWater)}
	}
	if cl.Heartbeat < 100*time.Millisecond {
		return &KeyError{Key: "cluster.heartbeat", Err: fmt.Errorf("must be at least 100ms, got %s", cl.Heartbeat)}
	}
	if cl.DeadAfter < cl.Heartbeat {
		return &KeyError{Key: "cluster.dead_after", Err: fmt.Errorf("must be at least cluster.heartbeat, got %s", cl.DeadAfter)}
	}
	if cl.PipeIP != "" && net.ParseIP(cl.PipeIP) == nil {
		return &KeyError{Key: "cluster.pipe_ip", Err: fmt.Errorf("%q is not an IP address", cl.PipeIP)}
	}
	for _, ip := range c.RTC.IPs {
		if net.ParseIP(ip).To4() == nil {
			return &KeyError{Key: "rtc.ips", Err: fmt.Errorf("%q is not an IPv4 address", ip)}
		}
	}
	if cl.CreateTimeout <= 0 {
		return &KeyError{Key: "cluster.create_timeout", Err: fmt.Errorf("must be positive")}
	}
	if cl.MoveMargin < 0 {
		return &KeyError{Key: "cluster.move_margin", Err: fmt.Errorf("must be >= 0, got %v", cl.MoveMargin)}
	}
	if cl.MoveGrace < 0 {
		return &KeyError{Key: "cluster.move_grace", Err: fmt.Errorf("must not be negative")}
	}
	if cl.RebalanceCooldown < 0 {
		return &KeyError{Key: "cluster.rebalance_cooldown", Err: fmt.Errorf("must not be negative")}
	}
	if c.Drain.Deadline < 0 {
		return &KeyError{Key: "drain.deadline", Err: fmt.Errorf("must not be negative")}
	}
	if c.Bus.URL != "" && !strings.HasPrefix(c.Bus.URL, "amqp://") && !strings.HasPrefix(c.Bus.URL, "amqps://") {
		return &KeyError{Key: "bus.url", Err: fmt.Errorf("must be an amqp:// or amqps:// URL")}
	}
	return nil
}

// KeyError is a configuration error about one key.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("config key %q: %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

func (s Signal) validate() error {
	switch {
	case s.MaxConnections < 1:
		return &KeyError{Key: "signal.max_connections", Err: fmt.Errorf("must be >= 1, got %d", s.MaxConnections)}
	case s.MaxConnectionsPerAddress < 0:
		return &KeyError{Key: "signal.max_connections_per_address", Err: fmt.Errorf("must be >= 0 (0: no bound), got %d", s.MaxConnectionsPerAddress)}
	case s.MaxMessagesPerSecond < 1:
		return &KeyError{Key: "signal.max_messages_per_second", Err: fmt.Errorf("must be >= 1, got %v", s.MaxMessagesPerSecond)}
	case s.JoinTimeout < time.Second:
		return &KeyError{Key: "signal.join_timeout", Err: fmt.Errorf("must be >= 1s, got %s", s.JoinTimeout)}
	case s.MaxSDPBytes < 1024 || s.MaxSDPBytes > s.MaxMessageBytes:
		return &KeyError{Key: "signal.max_sdp_bytes", Err: fmt.Errorf("must be between 1024 and signal.max_message_bytes, got %d", s.MaxSDPBytes)}
	case s.MaxCandidates < 1:
		return &KeyError{Key: "signal.max_candidates", Err: fmt.Errorf("must be >= 1, got %d", s.MaxCandidates)}
	case s.ReadHeaderTimeout < 100*time.Millisecond:
		return &KeyError{Key: "signal.read_header_timeout", Err: fmt.Errorf("must be >= 100ms, got %s", s.ReadHeaderTimeout)}
	case s.ResumeWindow < 0 || s.ResumeWindow > 10*time.Minute:
		return &KeyError{Key: "signal.resume_window", Err: fmt.Errorf("must be between 0 (no resume) and 10m, got %s", s.ResumeWindow)}
	}
	return nil
}
