package control

import (
	"net/netip"
	"slices"

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
	for _, s := range append([]string{cfg.TurnRelayIP(), cfg.RTC.AnnouncedIP}, cfg.RTC.IPs...) {
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

// TURNProtocol says how the client of a live TURN allocation reaches the
// embedded TURN server ("turn/udp", "turn/tcp", "turn/tls"), given the
// allocation's relayed address: the remote address a worker reports for a
// relayed peer. False without TURN or for an address no allocation has.
func (c *Control) TURNProtocol(relayed netip.AddrPort) (string, bool) {
	return c.turn.Protocol(relayed)
}

// iceServers is the signalling's ICEServers: the embedded TURN server with
// credentials for the peer, then rtc.ice_servers.
type iceServers struct {
	turn     *turnserver.Server
	external []wire.ICEServer
}

func newICEServers(turn *turnserver.Server, external []config.ICEServer) *iceServers {
	s := &iceServers{turn: turn}
	for _, e := range external {
		s.external = append(s.external, wire.ICEServer{URLs: e.URLs, Username: e.Username, Credential: e.Credential})
	}
	return s
}

// ICEServers implements signal.ICEServers. A peer whose media is on another
// server's relay router still gets this server's TURN URLs: see
// docs/deploy.md (TURN in a cluster) for what that peer would need.
func (s *iceServers) ICEServers(peerID string, _ cluster.ServerID) []wire.ICEServer {
	var out []wire.ICEServer
	if s.turn != nil {
		out = s.turn.ICEServers(peerID)
	}
	return append(out, s.external...)
}
