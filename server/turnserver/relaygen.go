package turnserver

import (
	"net"

	"github.com/pion/turn/v5"
)

// relayGen makes the relayed sockets of one listener's allocations (pion's
// RelayAddressGenerator): UDP sockets in turn.relay_port_min..max on the relay
// IP, each wrapped in a relayConn that keeps it to the workers and within its
// bandwidth, after the quota allows it. It knows its listener's protocol, which
// is how Protocol tells TURN over UDP, TCP and TLS apart.
type relayGen struct {
	srv   *Server
	proto string
	ports *turn.RelayAddressGeneratorPortRange
}

var _ turn.RelayAddressGenerator = (*relayGen)(nil)

func (g *relayGen) Validate() error { return g.ports.Validate() }

// AllocatePacketConn opens the relayed socket of a UDP allocation.
func (g *relayGen) AllocatePacketConn(cfg turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if cfg.Network != "udp4" {
		return nil, nil, ErrAddressFamily
	}
	if cfg.RequestedPort != 0 && (cfg.RequestedPort < int(g.ports.MinPort) || cfg.RequestedPort > int(g.ports.MaxPort)) {
		g.srv.metrics.permission.Inc()
		return nil, nil, ErrRequestedPort
	}
	if err := g.srv.allocs.reserve(cfg.UserID); err != nil {
		g.srv.metrics.quota.Inc()
		return nil, nil, err
	}
	conn, addr, err := g.ports.AllocatePacketConn(cfg)
	if err != nil {
		g.srv.allocs.release(cfg.UserID)
		return nil, nil, err
	}
	relayed, _ := addrPort(addr)
	rc := newRelayConn(g.srv, conn, relayed, cfg.UserID, g.proto)
	g.srv.allocs.add(rc)
	g.srv.metrics.allocations.WithLabelValues(g.proto).Inc()
	g.srv.log.Debug("turn allocation", "user", cfg.UserID, "relayed", relayed.String(), "protocol", g.proto)
	return rc, addr, nil
}

// AllocateListener refuses TCP allocations (RFC 6062): a client could Connect
// them anywhere, and the workers take media over UDP.
func (g *relayGen) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	g.srv.metrics.permission.Inc()
	return nil, nil, ErrTCPRelay
}

// AllocateConn refuses RFC 6062 Connect requests (there are no TCP allocations).
func (g *relayGen) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	g.srv.metrics.permission.Inc()
	return nil, ErrTCPRelay
}
