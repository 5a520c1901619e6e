package control

import (
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/turnserver"
	"github.com/voicectl/voicectl/server/wire"
)

// newTURN builds the embedded TURN server when turn.enabled: its peers are
// the workers' UDP ports on the addresses their candidates carry.
func newTURN(cfg config.Config, c *Control, reg prometheus.Registerer) (*turnserver.Server, error) {
	if !cfg.Turn.Enabled {
		return nil, nil
	}
	var ips []netip.Addr
	for _, s := range append(append([]string{cfg.TurnRelayIP(), cfg.RTC.AnnouncedIP}, cfg.RTC.IPs...), workerIPs(cfg)...) {
		if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(ips, a.Unmap()) {
			ips = append(ips, a.Unmap())
		}
	}
	secret := []byte(cfg.Turn.Secret)
	if len(secret) == 0 {
		secret = c.secret // auth.secret, or the one generated in dev mode
	}
	top := cfg.RTC.Port + cfg.EffectiveWorkers() - 1
	return turnserver.New(turnserver.Params{Logger: c.log, Registerer: reg, Config: cfg.Turn,
		ListenIP: cfg.TurnListenIP(), RelayIP: cfg.TurnRelayIP(), Host: cfg.TurnHost(), Secret: secret,
		Peers: turnserver.Peers{IPs: ips, MinPort: uint16(cfg.RTC.Port), MaxPort: uint16(top)}}) //nolint:gosec // validated ports
}

// workerIPs are the IPv4 addresses the workers offer candidates on when
// rtc.ips does not list them: every address of the allowed interfaces
// (rtc.interfaces), loopback ones with rtc.loopback. The relay then reaches
// every candidate of a worker, and a client's permissions for them are
// not refused.
func workerIPs(cfg config.Config) []string {
	if len(cfg.RTC.IPs) > 0 {
		return nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range ifs {
		if len(cfg.RTC.Interfaces) > 0 && !slices.Contains(cfg.RTC.Interfaces, i.Name) {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.To4() == nil || (n.IP.IsLoopback() && !cfg.RTC.Loopback) {
				continue
			}
			out = append(out, n.IP.String())
		}
	}
	return out
}

// TURNProtocol says how the client of a live TURN allocation reaches the
// embedded TURN server ("turn/udp", "turn/tcp", "turn/tls"), given the
// allocation's relayed address: the remote address a worker reports for a
// relayed peer. False without TURN or for an address no allocation has.
func (c *Control) TURNProtocol(relayed netip.AddrPort) (string, bool) {
	return c.turn.Protocol(relayed)
}

// iceServers is the signalling's ICEServers: the TURN server of the host
// that carries the peer's media, with credentials for the peer, then
// rtc.ice_servers.
type iceServers struct {
	local cluster.ServerID
	turn  *turnserver.Server
	// creds sign credentials for another host's TURN server: servers that
	// share the secret (turn.secret, else auth.secret) accept each other's.
	creds *turnserver.Credentials
	ttl   time.Duration
	// remote is another server's TURN URLs, from its heartbeats (nil
	// outside a cluster).
	remote   func(cluster.ServerID) []string
	external []wire.ICEServer
}

func (c *Control) newICEServers(cfg config.Config) (*iceServers, error) {
	secret := []byte(cfg.Turn.Secret)
	if len(secret) == 0 {
		secret = c.secret
	}
	creds, err := turnserver.NewCredentials(secret)
	if err != nil {
		return nil, err
	}
	s := &iceServers{local: c.serverID, turn: c.turn, creds: creds, ttl: cfg.Turn.CredentialTTL}
	if c.bus != nil {
		s.remote = func(id cluster.ServerID) []string {
			c.drainMu.Lock()
			a := c.agent
			c.drainMu.Unlock()
			if a == nil {
				return nil
			}
			return a.TURN(id)
		}
	}
	for _, e := range cfg.RTC.ICEServers {
		s.external = append(s.external, wire.ICEServer{URLs: e.URLs, Username: e.Username, Credential: e.Credential})
	}
	return s, nil
}

// ICEServers implements signal.ICEServers. A peer whose media another
// server relays (a relay router of a room bigger than this server) gets that
// server's TURN, as its heartbeats advertise it: this server's TURN relays
// only to this server's workers.
func (s *iceServers) ICEServers(peerID string, media cluster.ServerID) []wire.ICEServer {
	var out []wire.ICEServer
	switch {
	case media == "" || media == s.local:
		if s.turn != nil {
			out = s.turn.ICEServers(peerID)
		}
	case s.remote != nil:
		if urls := s.remote(media); len(urls) > 0 {
			out = []wire.ICEServer{s.creds.ICEServer(peerID, s.ttl, urls)}
		}
	}
	return append(out, s.external...)
}
