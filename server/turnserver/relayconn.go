package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// relayConn is one allocation's relayed socket (RFC 8656 §2: the relayed
// transport address). pion checks permissions by IP only; relayConn checks
// the port too, both ways, and bounds each direction with a token bucket:
// what it drops it counts and reports as written, so pion's relay loop goes
// on as it would over a lossy network.
type relayConn struct {
	net.PacketConn
	srv     *Server
	relayed netip.AddrPort
	user    string
	proto   string
	out, in *rate.Limiter

	closeOnce sync.Once
}

func newRelayConn(s *Server, c net.PacketConn, relayed netip.AddrPort, user, proto string) *relayConn {
	bps := s.p.Config.MaxBytesPerSecond
	return &relayConn{PacketConn: c, srv: s, relayed: relayed, user: user, proto: proto,
		out: rate.NewLimiter(rate.Limit(bps), bps), in: rate.NewLimiter(rate.Limit(bps), bps)}
}

// WriteTo sends a client's packet to a peer: a worker's media address, or
// nowhere.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := addrPort(addr)
	if !ok || !c.srv.p.Peers.allows(ap) {
		c.srv.metrics.permission.Inc()
		return len(p), nil
	}
	if !c.out.AllowN(time.Now(), len(p)) {
		c.srv.metrics.bandwidth.Inc()
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.srv.metrics.toPeer.Add(float64(n))
	return n, err
}

// ReadFrom returns the next packet from a worker; packets from elsewhere
// and those over the bound are dropped.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		ap, ok := addrPort(addr)
		if !ok || !c.srv.p.Peers.allows(ap) {
			c.srv.metrics.permission.Inc()
			continue
		}
		if !c.in.AllowN(time.Now(), n) {
			c.srv.metrics.bandwidth.Inc()
			continue
		}
		c.srv.metrics.fromPeer.Add(float64(n))
		return n, addr, nil
	}
}

// Close ends the allocation's socket and gives its quota back.
func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.closeOnce.Do(func() { c.srv.allocs.remove(c) })
	return err
}
