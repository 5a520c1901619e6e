package control

import (
	"time"
)

// defaultDrainDeadline is drain.deadline's default, for a Config built in code.
const defaultDrainDeadline = 2 * time.Minute

// drainPoll is how often a draining server looks whether it is empty.
const drainPoll = 100 * time.Millisecond

// Drain starts emptying the server, once: from now on it takes no rooms,
// relays or joins, /readyz answers 503 and its heartbeats say draining, so
// the API moves its rooms to other servers (without a cluster, the rooms end
// when their peers leave). Drained is closed when nothing is left here (no
// room, no peer, no relayed peer) or at the deadline, whichever comes first;
// the caller then stops the server, which sends what is left a reconnect
// instruction. deadline 0 is drain.deadline. A second call returns the first
// one's end.
func (c *Control) Drain(deadline time.Duration) time.Time {
	if deadline <= 0 {
		deadline = c.cfg.Drain.Deadline
	}
	if deadline <= 0 {
		deadline = defaultDrainDeadline
	}
	c.drainMu.Lock()
	defer c.drainMu.Unlock()
	if !c.drainUntil.IsZero() {
		return c.drainUntil
	}
	c.drainUntil = time.Now().Add(deadline)
	c.host.Drain()
	rooms, peers := c.host.Counts()
	c.log.Info("draining", "deadline", deadline.String(), "rooms", rooms, "peers", peers)
	if c.agent != nil {
		c.agent.Beat() // the API learns at once
	}
	go c.awaitDrained(c.drainUntil)
	return c.drainUntil
}

// Drained is closed when a drain has finished.
func (c *Control) Drained() <-chan struct{} { return c.drained }

func (c *Control) awaitDrained(until time.Time) {
	start := time.Now()
	tk := time.NewTicker(drainPoll)
	defer tk.Stop()
	for {
		rooms, peers := c.host.Counts()
		_, _, relayed := c.host.Lender().Counts()
		claimed := len(c.host.Claimed())
		if rooms == 0 && peers == 0 && relayed == 0 && claimed == 0 {
			c.log.Info("drained: nothing left here", "took", time.Since(start).Round(time.Millisecond).String())
			close(c.drained)
			return
		}
		if !time.Now().Before(until) {
			c.log.Warn("drain deadline reached; closing what is left", "rooms", rooms, "peers", peers, "relayed_peers", relayed)
			close(c.drained)
			return
		}
		<-tk.C
	}
}
