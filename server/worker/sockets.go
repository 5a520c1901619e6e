package worker

import (
	"net"
	"net/netip"
	"sync"
	"syscall"

	pionnet "github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// mediaSockets are the worker's UDP sockets, one per allowed local address, that
// pion's ICE mux reads and answers STUN on. The forwarding path writes SRTP to the
// same sockets in batches, so listeners see one address for everything.
type mediaSockets struct {
	*stdnet.Net

	mu    sync.Mutex
	byIP  map[netip.Addr]*mediaSocket
	conns []*mediaSocket
}

// mediaSocket is one of the worker's UDP sockets, ready for raw sendmmsg.
type mediaSocket struct {
	conn *net.UDPConn
	raw  syscall.RawConn
}

func newMediaSockets() (*mediaSockets, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &mediaSockets{Net: n, byIP: map[netip.Addr]*mediaSocket{}}, nil
}

// ListenUDP implements pionnet.Net for the ICE mux and keeps every socket it opens.
func (s *mediaSockets) ListenUDP(network string, laddr *net.UDPAddr) (pionnet.UDPConn, error) {
	c, err := s.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if uc, ok := c.(*net.UDPConn); ok {
		raw, rawErr := uc.SyscallConn()
		if addr, ok := netip.AddrFromSlice(laddr.IP); ok && rawErr == nil {
			pc := &mediaSocket{conn: uc, raw: raw}
			s.mu.Lock()
			s.byIP[addr.Unmap()] = pc
			s.conns = append(s.conns, pc)
			s.mu.Unlock()
			return &rawConn{UDPConn: uc, raw: raw}, nil
		}
	}
	return c, nil
}

// socketFor returns the socket bound to local, or the only socket when there is
// just one (a local candidate may carry an announced address, rtc.announced_ip).
func (s *mediaSockets) socketFor(local netip.Addr) *mediaSocket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pc := s.byIP[local.Unmap()]; pc != nil {
		return pc
	}
	if len(s.conns) == 1 {
		return s.conns[0]
	}
	return nil
}
