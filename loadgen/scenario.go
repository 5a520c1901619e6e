// Package loadgen drives synthetic peers against a voicectl server to measure and
// calibrate capacity. Peers do real ICE, DTLS and SRTP with pion; listeners count
// packets from RTP headers (left in clear by SRTP) and decrypt only the samples
// they need for latency. It talks to servers only through the public protocols.
package loadgen

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/voicectl/voicectl/client"
)

// Scenario describes a load run; it can be read from YAML.
type Scenario struct {
	Server   string `yaml:"server"`    // HTTP base URL of the server
	Secret   string `yaml:"secret"`    // auth.secret, to mint join tokens
	AdminKey string `yaml:"admin_key"` // auth.admin_key, to read server CPU and packet counts (optional)
	// API, when set, runs against a cluster: peers join through the API's
	// join endpoint (APIKey is its auth.api_key) and the report adds up
	// every server's workers; Server and Secret are then not used.
	API    string `yaml:"api"`
	APIKey string `yaml:"api_key"`

	Rooms      int           `yaml:"rooms"`
	Publishers int           `yaml:"publishers"` // per room
	Listeners  int           `yaml:"listeners"`  // per room
	JoinRate   float64       `yaml:"join_rate"`  // peers per second
	Duration   time.Duration `yaml:"duration"`   // measurement window
	Warmup     time.Duration `yaml:"warmup"`     // after the last join, before measuring
	RoomPrefix string        `yaml:"room_prefix"`
	DTX        bool          `yaml:"dtx"`
	// IdleWindow, after the measurement window, pauses every publisher for this
	// long and measures what the connected peers alone cost the server (see
	// measureIdle). 0 skips it.
	IdleWindow time.Duration `yaml:"idle_window"`
	// LatencySampleEvery decrypts one packet in N per stream for latency.
	LatencySampleEvery int `yaml:"latency_sample_every"`
	// ReadPacing pauses each peer's socket between reads so reads come in batches
	// (fewer wake-ups); arrival times come from kernel timestamps, so loss,
	// jitter and latency stay exact. 0 reads every packet at once.
	ReadPacing time.Duration `yaml:"read_pacing"`
	// LoopbackOnly restricts ICE to 127.0.0.1 (tests).
	LoopbackOnly bool `yaml:"loopback_only"`
	// Interfaces, when set, restricts the peers' ICE to these interfaces.
	Interfaces []string `yaml:"interfaces"`
	// Transport holds the listeners' media to one path (udp, tcp, turn-udp,
	// turn-tcp, turn-tls; "" lets ICE pick), to measure what forwarding to
	// each costs the server. Publishers keep the default. Off UDP a
	// listener's packets reach pion framed or wrapped, so it decrypts each
	// before counting it (see client.Transport): the generator costs more.
	Transport client.Transport `yaml:"transport"`
	// Network, when it has loss, jitter or reordering, is impaired by the
	// peers' own sockets (impair.go); its keys sit at the top level.
	Network Network `yaml:",inline"`
	// NACK has the peers answer the server's offer of generic NACK (RFC
	// 4585) as Chromium does, when it makes one: listeners ask for their
	// gaps again, publishers answer from a send history. On by default.
	NACK bool `yaml:"nack"`
	// RED has the peers answer the server's offer of RED (RFC 2198) as
	// Chromium does: they publish RED and listeners recover lost frames from
	// the next packet's redundant block. On by default.
	RED bool `yaml:"red"`

	MaxLoss       float64       `yaml:"max_loss"`        // fail when loss_ratio exceeds it (0: no limit)
	MaxLatencyP99 time.Duration `yaml:"max_latency_p99"` // fail when latency p99 exceeds it (0: no limit)
	MaxGap        time.Duration `yaml:"max_gap"`         // fail when a listener's longest gap exceeds it (0: no limit)
}

// DefaultScenario is what flags start from.
func DefaultScenario() Scenario {
	return Scenario{
		Server: "http://127.0.0.1:7880", Rooms: 1, Publishers: 2, Listeners: 8, JoinRate: 20,
		Duration: 10 * time.Second, Warmup: 2 * time.Second, RoomPrefix: "loadgen", LatencySampleEvery: 10,
		ReadPacing: 40 * time.Millisecond, Network: Network{Seed: 1}, NACK: true, RED: true,
	}
}

// LoadScenario reads a YAML scenario over s (fields it omits keep their values).
func LoadScenario(path string, s *Scenario) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := ParseScenario(b, s); err != nil {
		return fmt.Errorf("scenario %s: %w", path, err)
	}
	return nil
}

// ParseScenario decodes scenario YAML over s; unknown keys are errors.
func ParseScenario(b []byte, s *Scenario) error {
	dec := yaml.NewDecoder(bytesReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks a scenario.
func (s *Scenario) Validate() error {
	var errs []error
	switch {
	case s.API != "":
		if s.APIKey == "" {
			errs = append(errs, errors.New("api_key (the API's auth.api_key) is required with api"))
		}
	case s.Server == "":
		errs = append(errs, errors.New("server is required"))
	case len(s.Secret) < 16:
		errs = append(errs, errors.New("secret (the server's auth.secret, at least 16 characters) is required to mint tokens"))
	}
	if s.Rooms < 1 || s.Publishers < 0 || s.Listeners < 0 || s.Publishers+s.Listeners < 2 {
		errs = append(errs, errors.New("need rooms >= 1 and at least 2 peers per room"))
	}
	if s.Publishers < 1 {
		errs = append(errs, errors.New("need at least one publisher per room"))
	}
	if s.JoinRate <= 0 {
		errs = append(errs, errors.New("join_rate must be positive"))
	}
	if s.Duration < time.Second || s.Duration > 20*time.Minute {
		errs = append(errs, errors.New("duration must be between 1s and 20m (sequence numbers wrap after 21 minutes)"))
	}
	if s.IdleWindow < 0 || s.IdleWindow > 10*time.Minute {
		errs = append(errs, errors.New("idle_window must be between 0 and 10m"))
	}
	if s.ReadPacing < 0 || s.ReadPacing > 500*time.Millisecond {
		errs = append(errs, errors.New("read_pacing must be between 0 and 500ms"))
	}
	if s.LatencySampleEvery < 1 {
		errs = append(errs, errors.New("latency_sample_every must be >= 1"))
	}
	if s.MaxGap < 0 || s.Warmup < 0 || s.MaxLatencyP99 < 0 {
		errs = append(errs, errors.New("max_gap, warmup and max_latency_p99 must not be negative"))
	}
	if _, err := client.ParseTransport(string(s.Transport)); err != nil {
		errs = append(errs, err)
	}
	if err := s.Network.Validate(s.Transport); err != nil {
		errs = append(errs, err)
	}
	if s.MaxLoss < 0 || s.MaxLoss > 1 {
		errs = append(errs, errors.New("max_loss is a ratio between 0 and 1"))
	}
	return errors.Join(errs...)
}
