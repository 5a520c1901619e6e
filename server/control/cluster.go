package control

import (
	"github.com/voicectl/voicectl/server/agent"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/placement"
)

// usage is the server's load for heartbeats and high/low water: per worker
// the larger of the measured and the reserved load, over capacity.
func (c *Control) usage() cluster.Heartbeat {
	reserved := c.host.Loads()
	hb := cluster.Heartbeat{Version: c.version, Draining: c.host.Draining(), StartedAt: c.startedAt}
	capacity := c.cfg.Worker.MaxConsumers
	total, totalCap := 0, 0
	for i, st := range c.sup.Workers() {
		load := reserved[c.sup.Ref(i)].Units()
		if smp, ok := c.sup.LastSample(i); ok && st.Ready && smp.PID == st.PID {
			l := smp.Load
			load = max(load, l.Consumers+l.Producers+l.PipeConsumers)
			hb.Consumers += l.Consumers
			hb.Producers += l.Producers
			hb.CPU += smp.CPUPercent
		}
		hb.Workers = append(hb.Workers, cluster.WorkerUsage{Index: i, Ready: st.Ready, Load: load, Capacity: capacity,
			Stress: placement.Stress(load, capacity)})
		if st.Ready {
			total += load
			totalCap += capacity
			hb.Spare += max(capacity-load, 0)
		}
	}
	hb.Stress = placement.Stress(total, totalCap)
	_, hb.Peers = c.host.Counts()
	hb.RelayRooms, _, hb.RelayPeers = c.host.Lender().Counts()
	hb.TURN = c.turn.URLs()
	return hb
}

// startAgent joins the cluster once the workers are up.
func (c *Control) startAgent() error {
	c.lending.Start()
	a, err := agent.Start(agent.Params{Logger: c.log, Bus: c.bus, ServerID: c.serverID, Host: c.host, Usage: c.usage,
		HighWater: c.cfg.Cluster.HighWater, LowWater: c.cfg.Cluster.LowWater, Heartbeat: c.cfg.Cluster.Heartbeat,
		SignalURL: c.signalURL(), DeadAfter: c.cfg.Cluster.DeadAfter, OnServerLost: c.host.ServerLost,
		CallWorker: c.lending.ServeCall, Drain: c.Drain,
		OnServerDraining: func(id cluster.ServerID) { c.host.RelayDraining(id, c.signalURL(), c.serverID) }})
	if err != nil {
		c.lending.Close()
		return err
	}
	if err := c.borrower.Start(a); err != nil {
		a.Stop()
		c.lending.Close()
		return err
	}
	// A drain may be running: the admin API serves already, and the bus's
	// drain command comes as soon as the agent serves.
	c.drainMu.Lock()
	c.agent = a
	c.drainMu.Unlock()
	return nil
}

// signalURL is where clients reach this server: cluster.public_url, else the
// HTTP listener's address.
func (c *Control) signalURL() string {
	if c.cfg.Cluster.PublicURL != "" {
		return c.cfg.SignalURL()
	}
	return "http://" + c.Addr()
}
