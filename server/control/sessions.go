package control

import (
	"time"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/wire"
)

func (c *Control) trackSession(s *session) {
	c.sessMu.Lock()
	c.sess[s] = struct{}{}
	c.sessMu.Unlock()
}

func (c *Control) forgetSession(s *session) {
	c.sessMu.Lock()
	delete(c.sess, s)
	c.sessMu.Unlock()
}

// closeAllSessions tells every client to reconnect (elsewhere or later) and closes it,
// waiting up to a second for the messages to be written.
func (c *Control) closeAllSessions() {
	c.sessMu.Lock()
	all := make([]*session, 0, len(c.sess))
	for s := range c.sess {
		all = append(all, s)
	}
	c.sessMu.Unlock()
	for _, s := range all {
		s.reconnect(wire.ReconnectServerShutdown, 1000)
	}
	deadline := time.After(time.Second)
	for _, s := range all {
		select {
		case <-s.closed:
		case <-deadline:
		}
		s.abort(websocket.StatusGoingAway, "server shutdown")
	}
}
