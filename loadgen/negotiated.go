package loadgen

import (
	"sync/atomic"

	"github.com/voicectl/voicectl/client"
)

// negotiated caches whether a peer's answer kept a feature (RED, NACK):
// unknown until its client has connected, fixed from then on.
type negotiated struct {
	state atomic.Int32 // 0 unknown, 1 kept, 2 refused
}

// kept reports the feature's state, asking c (once connected) the first time.
func (n *negotiated) kept(c *client.Client, ask func(*client.Client) bool) bool {
	switch n.state.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	if c == nil || !c.Connected() {
		return false
	}
	on := ask(c)
	if on {
		n.state.Store(1)
	} else {
		n.state.Store(2)
	}
	return on
}
