package worker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
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
	// fallbacks are why sockets have no send socket (their fan-outs take the
	// raw system call on the socket itself); the worker logs them.
	fallbacks []error
	// consent keeps connected peers' consent fresh, both ways, on every socket.
	consent *consentKeeper
	// rounds runs the periodic per-peer work of the worker: consent checks,
	// sender reports.
	rounds *rounds
	// ingress takes publishers' RTP on every socket.
	ingress *ingressTable
}

// mediaSocket is one of the worker's UDP sockets, ready for raw sendmmsg, with
// its send socket when the kernel lets one share the port (see sendSocket).
type mediaSocket struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	send *sendSocket
}

func newMediaSockets() (*mediaSockets, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	r := newRounds()
	return &mediaSockets{Net: n, byIP: map[netip.Addr]*mediaSocket{}, consent: newConsentKeeper(r), rounds: r, ingress: &ingressTable{}}, nil
}

// ListenUDP implements pionnet.Net for the ICE mux and keeps every socket it opens.
func (s *mediaSockets) ListenUDP(network string, laddr *net.UDPAddr) (pionnet.UDPConn, error) {
	if laddr == nil || laddr.IP.To4() == nil || (network != "udp4" && network != "udp") {
		return s.Net.ListenUDP(network, laddr)
	}
	// SO_REUSEPORT would let a second server of the same user bind the port
	// silently and take its traffic; a plain bind first keeps "address in use".
	if laddr.Port != 0 {
		probe, err := net.ListenUDP(network, laddr)
		if err != nil {
			return nil, err
		}
		_ = probe.Close()
	}
	lc := net.ListenConfig{Control: reusePort}
	c, err := lc.ListenPacket(context.Background(), network, laddr.String())
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UDPConn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("listen %s: not a UDP socket", laddr)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		_ = uc.Close()
		return nil, err
	}
	pc := &mediaSocket{conn: uc, raw: raw}
	send, sendErr := openSendSocket(uc.LocalAddr().(*net.UDPAddr))
	if sendErr == nil {
		pc.send = send
	}
	s.mu.Lock()
	if addr, ok := netip.AddrFromSlice(laddr.IP); ok {
		s.byIP[addr.Unmap()] = pc
	}
	s.conns = append(s.conns, pc)
	if sendErr != nil {
		s.fallbacks = append(s.fallbacks, sendErr)
	}
	s.mu.Unlock()
	return newRawConn(uc, raw, send, s.consent, s.ingress), nil
}

// writeTo sends one datagram from the socket (STUN, not media).
func (m *mediaSocket) writeTo(b []byte, to netip.AddrPort) (int, error) {
	return writeRaw(m.raw, m.send, b, to)
}

// sendSocketErrors are why sockets opened so far have no send socket.
func (s *mediaSockets) sendSocketErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fallbacks)
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
