package config

import (
	"fmt"
	"net"
	"time"
)

// Turn configures the embedded TURN server (RFC 8656) that gives clients
// behind firewalls a path to the workers: TURN over UDP and TCP on UDPPort,
// TURN over TLS on TLSPort when a certificate is set. It relays only to this
// server's workers (docs/deploy.md).
type Turn struct {
	// Enabled starts the TURN server. It is off by default, in dev mode too:
	// it binds well-known ports (3478, and 5349 or 443) that a coturn on the
	// same host usually holds, and a relay is an exposure an operator opts
	// into (`serve --turn`, which `make run` passes).
	Enabled bool `mapstructure:"enabled"`
	// ListenIP is where the TURN listeners bind; empty means RelayIP.
	ListenIP string `mapstructure:"listen_ip"`
	// UDPPort is TURN over UDP, and TURN over TCP on the same port number.
	UDPPort int `mapstructure:"udp_port"`
	// TLSPort is TURN over TLS (443 in production: firewalls let it through);
	// it listens only when CertFile and KeyFile are set.
	TLSPort  int    `mapstructure:"tls_port"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Host is the name or address clients reach the TURN server at, in the
	// URLs of ice_servers (a TLS client checks the certificate against it);
	// empty means rtc.announced_ip, else the relay IP.
	Host  string `mapstructure:"host"`
	Realm string `mapstructure:"realm"`
	// RelayIP is the address relayed packets leave from and the workers send
	// to (the XOR-RELAYED-ADDRESS); empty means the first of rtc.ips, else
	// 127.0.0.1.
	RelayIP string `mapstructure:"relay_ip"`
	// RelayPortMin and RelayPortMax bound the relayed UDP ports; the range
	// must not overlap the workers' ports.
	RelayPortMin int `mapstructure:"relay_port_min"`
	RelayPortMax int `mapstructure:"relay_port_max"`
	// Secret signs the credentials (TURN REST API); empty means auth.secret,
	// so that every server of a cluster accepts the others' credentials.
	Secret string `mapstructure:"secret"`
	// CredentialTTL is how long handed-out credentials stay valid; an
	// allocation's refreshes need them valid for the whole call.
	CredentialTTL time.Duration `mapstructure:"credential_ttl"`
	// MaxAllocations bounds the server's allocations, MaxAllocationsPerUser
	// those of one credential (one peer).
	MaxAllocations        int `mapstructure:"max_allocations"`
	MaxAllocationsPerUser int `mapstructure:"max_allocations_per_user"`
	// MaxBytesPerSecond bounds each direction of one allocation (a token
	// bucket holding one second's worth); packets over it are dropped.
	MaxBytesPerSecond int `mapstructure:"max_bytes_per_second"`
}

// ICEServer is an external STUN or TURN server (rtc.ice_servers), handed to
// clients in the join answer as it is: for operators who run coturn.
type ICEServer struct {
	URLs       []string `mapstructure:"urls"`
	Username   string   `mapstructure:"username"`
	Credential string   `mapstructure:"credential"`
}

func turnDefaults() map[string]any {
	return map[string]any{
		"turn.enabled":                  false,
		"turn.listen_ip":                "",
		"turn.udp_port":                 3478,
		"turn.tls_port":                 5349,
		"turn.cert_file":                "",
		"turn.key_file":                 "",
		"turn.host":                     "",
		"turn.realm":                    "voicectl",
		"turn.relay_ip":                 "",
		"turn.relay_port_min":           30000,
		"turn.relay_port_max":           30999,
		"turn.secret":                   "",
		"turn.credential_ttl":           "12h",
		"turn.max_allocations":          1000,
		"turn.max_allocations_per_user": 8,
		"turn.max_bytes_per_second":     1000000,
		"rtc.ice_servers":               []any{},
	}
}

// TurnRelayIP is turn.relay_ip, else the first of rtc.ips, else 127.0.0.1.
func (c *Config) TurnRelayIP() string {
	switch {
	case c.Turn.RelayIP != "":
		return c.Turn.RelayIP
	case len(c.RTC.IPs) > 0:
		return c.RTC.IPs[0]
	}
	return "127.0.0.1"
}

// TurnListenIP is turn.listen_ip, else the relay IP.
func (c *Config) TurnListenIP() string {
	if c.Turn.ListenIP != "" {
		return c.Turn.ListenIP
	}
	return c.TurnRelayIP()
}

// TurnHost is turn.host, else rtc.announced_ip, else the relay IP.
func (c *Config) TurnHost() string {
	switch {
	case c.Turn.Host != "":
		return c.Turn.Host
	case c.RTC.AnnouncedIP != "":
		return c.RTC.AnnouncedIP
	}
	return c.TurnRelayIP()
}

// TurnSecret is turn.secret, else auth.secret.
func (c *Config) TurnSecret() string {
	if c.Turn.Secret != "" {
		return c.Turn.Secret
	}
	return c.Auth.Secret
}

func (c *Config) validateTurn() error {
	for i, s := range c.RTC.ICEServers {
		if len(s.URLs) == 0 {
			return &KeyError{Key: "rtc.ice_servers", Err: fmt.Errorf("entry %d has no urls", i)}
		}
	}
	t := c.Turn
	if !t.Enabled {
		return nil
	}
	port := func(key string, p int) error {
		if p < 1 || p > 65535 {
			return &KeyError{Key: key, Err: fmt.Errorf("%d is not a port", p)}
		}
		return nil
	}
	for _, kp := range []struct {
		key string
		p   int
	}{{"turn.udp_port", t.UDPPort}, {"turn.tls_port", t.TLSPort}, {"turn.relay_port_min", t.RelayPortMin}, {"turn.relay_port_max", t.RelayPortMax}} {
		if err := port(kp.key, kp.p); err != nil {
			return err
		}
	}
	if t.RelayPortMax < t.RelayPortMin {
		return &KeyError{Key: "turn.relay_port_max", Err: fmt.Errorf("must be >= turn.relay_port_min")}
	}
	if top := c.RTC.Port + c.EffectiveWorkers() - 1; t.RelayPortMin <= top && c.RTC.Port <= t.RelayPortMax {
		return &KeyError{Key: "turn.relay_port_min", Err: fmt.Errorf("the relay ports %d-%d overlap the workers' %d-%d", t.RelayPortMin, t.RelayPortMax, c.RTC.Port, top)}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return &KeyError{Key: "turn.cert_file", Err: fmt.Errorf("turn.cert_file and turn.key_file go together")}
	}
	if t.CertFile != "" && t.TLSPort == t.UDPPort {
		return &KeyError{Key: "turn.tls_port", Err: fmt.Errorf("must differ from turn.udp_port (TURN over TCP listens there)")}
	}
	for _, kv := range [][2]string{{"turn.relay_ip", c.TurnRelayIP()}, {"turn.listen_ip", c.TurnListenIP()}} {
		if ip := net.ParseIP(kv[1]); ip == nil || ip.To4() == nil {
			return &KeyError{Key: kv[0], Err: fmt.Errorf("%q is not an IPv4 address", kv[1])}
		}
	}
	if t.CredentialTTL < time.Minute {
		return &KeyError{Key: "turn.credential_ttl", Err: fmt.Errorf("must be >= 1m, got %s", t.CredentialTTL)}
	}
	if t.MaxAllocations < 1 || t.MaxAllocationsPerUser < 1 {
		return &KeyError{Key: "turn.max_allocations", Err: fmt.Errorf("turn.max_allocations and turn.max_allocations_per_user must be >= 1")}
	}
	if t.MaxBytesPerSecond < 1500 {
		return &KeyError{Key: "turn.max_bytes_per_second", Err: fmt.Errorf("must be >= 1500 (one packet), got %d", t.MaxBytesPerSecond)}
	}
	if t.Secret == "" && len(c.Auth.Secret) == 0 && !c.Dev {
		return &KeyError{Key: "turn.secret", Err: fmt.Errorf("set turn.secret or auth.secret")}
	}
	return nil
}
