package turnserver

import (
	"net"
	"sync"
)

// connSet remembers the TCP and TLS connections clients opened, so that
// Close ends them: pion's Close stops accepting but leaves them open.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
}

func (s *connSet) track(l net.Listener) net.Listener { return &trackedListener{Listener: l, set: s} }

func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.m[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, c)
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.m {
		_ = c.Close()
	}
	clear(s.m)
}

type trackedListener struct {
	net.Listener
	set *connSet
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.set.add(c) {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	return &trackedConn{Conn: c, set: l.set}, nil
}

type trackedConn struct {
	net.Conn
	set *connSet
}

func (c *trackedConn) Close() error {
	c.set.remove(c.Conn)
	return c.Conn.Close()
}
