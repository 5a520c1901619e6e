package signal

import (
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/wire"
)

func (srv *Server) track(s *session) {
	srv.sessMu.Lock()
	srv.sess[s] = struct{}{}
	srv.sessMu.Unlock()
}

func (srv *Server) forget(s *session) {
	srv.sessMu.Lock()
	delete(srv.sess, s)
	srv.sessMu.Unlock()
}

// CloseAll tells every client to reconnect (elsewhere or later) and closes it,
// waiting up to a second for the messages to be written.
func (srv *Server) CloseAll() {
	srv.sessMu.Lock()
	all := make([]*session, 0, len(srv.sess))
	for s := range srv.sess {
		all = append(all, s)
	}
	srv.sessMu.Unlock()
	conns := make([]*conn, 0, len(all))
	for _, s := range all {
		if c := s.current(); c != nil {
			conns = append(conns, c)
		}
		s.reconnect(wire.ReconnectServerShutdown, 1000)
		if s.current() == nil {
			s.leave() // detached: it leaves now, before the host stops
		}
	}
	deadline := time.After(time.Second)
	for _, c := range conns {
		select {
		case <-c.closed:
		case <-deadline:
		}
		c.abort(websocket.StatusGoingAway, "server shutdown")
	}
}
