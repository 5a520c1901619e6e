package turnserver

import (
	"fmt"
	"math/rand/v2"
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
	conn, addr, err := g.bind(cfg)
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

// bind opens a socket on a port of the range: pion's pick first (random
// ports, MaxRetries of them), then every port from a random one on, so an
// allocation is refused only when the whole range is taken. Ten random
// tries miss the free ports of a range that is mostly in use, by this
// server's allocations or anyone else's sockets, often enough to matter.
func (g *relayGen) bind(cfg turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.ports.AllocatePacketConn(cfg)
	if err == nil || cfg.RequestedPort != 0 {
		return conn, addr, err
	}
	first, n := int(g.ports.MinPort), int(g.ports.MaxPort)-int(g.ports.MinPort)+1
	from := rand.IntN(n) //nolint:gosec // spreads the scans, no secret
	for i := range n {
		cfg.RequestedPort = first + (from+i)%n
		if conn, addr, e := g.ports.AllocatePacketConn(cfg); e == nil {
			return conn, addr, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: every port of %d-%d is taken", err, first, first+n-1)
}
