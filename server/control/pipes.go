package control

import (
	"fmt"
	"math/rand/v2"

	"github.com/voicectl/voicectl/server/ipc"
)

// pairKey names the pipe between two workers' routers of a room (a < b).
type pairKey struct{ a, b int }

func keyOf(x, y int) pairKey {
	if x > y {
		x, y = y, x
	}
	return pairKey{x, y}
}

// pipePair is a pipe between two routers of a room: one pipe transport on each
// worker, created once and shared by every producer crossing between them
// (mediasoup's pipeToRouter).
type pipePair struct {
	id      string
	routers map[int]*roomRouter // by worker
	addrs   map[int]string      // each end's local address
	flows   map[flowKey]*pipeFlow
	ssrc    uint32
}

// flowKey is one producer crossing the pair towards one worker.
type flowKey struct {
	producerID string
	to         int
}

// pipeFlow is a producer crossing a pipe: a pipe consumer on the source router and
// a pipe producer (same producer id) on the far one, reference-counted by the far
// router's consumers.
type pipeFlow struct {
	refs int
	ssrc uint32
	from *roomRouter
	to   *roomRouter
}

// ensurePair returns the pipe between routers a and b, building it on first use.
// The caller holds r.opMu, so concurrent requests find the finished pair.
func (c *Control) ensurePair(r *room, a, b *roomRouter) (*pipePair, error) {
	if a.worker == b.worker {
		return nil, fmt.Errorf("never pipe between routers on one worker (%d)", a.worker)
	}
	k := keyOf(a.worker, b.worker)
	if pp := r.pipes[k]; pp != nil && pp.routers[a.worker] == a && pp.routers[b.worker] == b {
		return pp, nil
	}
	pp := &pipePair{id: newID("PP_"), routers: map[int]*roomRouter{a.worker: a, b.worker: b}, addrs: map[int]string{},
		flows: map[flowKey]*pipeFlow{}, ssrc: rand.Uint32() | 1}
	var created []int
	undo := func() {
		for _, w := range created {
			_ = c.call(w, ipc.MethodPipeClose, ipc.PipeRef{PipeID: pp.id}, nil)
		}
	}
	for _, rr := range []*roomRouter{a, b} {
		var res ipc.PipeCreated
		if err := c.call(rr.worker, ipc.MethodPipeCreate, ipc.PipeCreate{PipeID: pp.id, RouterID: rr.id, ListenIP: c.cfg.Worker.PipeListenIP}, &res); err != nil {
			undo()
			return nil, fmt.Errorf("pipe create on worker %d: %w", rr.worker, err)
		}
		created = append(created, rr.worker)
		pp.addrs[rr.worker] = res.LocalAddr
	}
	for _, pair := range [][2]*roomRouter{{a, b}, {b, a}} {
		if err := c.call(pair[0].worker, ipc.MethodPipeConnect, ipc.PipeConnect{PipeID: pp.id, RemoteAddr: pp.addrs[pair[1].worker]}, nil); err != nil {
			undo()
			return nil, fmt.Errorf("pipe connect on worker %d: %w", pair[0].worker, err)
		}
	}
	r.pipes[k] = pp
	return pp, nil
}

// ensureFlow makes producer q available on router to, taking one reference.
func (c *Control) ensureFlow(r *room, q *peer, to *roomRouter) error {
	pp, err := c.ensurePair(r, q.router, to)
	if err != nil {
		return err
	}
	fk := flowKey{producerID: q.producerID, to: to.worker}
	if f := pp.flows[fk]; f != nil {
		f.refs++
		return nil
	}
	pp.ssrc++
	f := &pipeFlow{refs: 1, ssrc: pp.ssrc, from: q.router, to: to}
	flow := ipc.PipeFlow{PipeID: pp.id, ProducerID: q.producerID, SSRC: f.ssrc, LevelExtID: q.levelExtID, Paused: q.muted}
	if err := c.call(to.worker, ipc.MethodPipeProduce, flow, nil); err != nil {
		c.closePairIfIdle(r, pp)
		return fmt.Errorf("pipe produce: %w", err)
	}
	if err := c.call(q.router.worker, ipc.MethodPipeConsume, flow, nil); err != nil {
		_ = c.call(to.worker, ipc.MethodPipeUnproduce, flow, nil)
		c.closePairIfIdle(r, pp)
		return fmt.Errorf("pipe consume: %w", err)
	}
	pp.flows[fk] = f
	return nil
}

// releaseFlow drops one reference; the last one closes the flow and, when it was
// the pair's last, the pair.
func (c *Control) releaseFlow(r *room, producerID string, from, to *roomRouter) {
	pp := r.pipes[keyOf(from.worker, to.worker)]
	if pp == nil {
		return
	}
	fk := flowKey{producerID: producerID, to: to.worker}
	f := pp.flows[fk]
	if f == nil {
		return
	}
	if f.refs--; f.refs > 0 {
		return
	}
	c.closeFlow(pp, fk, f)
	c.closePairIfIdle(r, pp)
}

func (c *Control) closeFlow(pp *pipePair, fk flowKey, f *pipeFlow) {
	delete(pp.flows, fk)
	flow := ipc.PipeFlow{PipeID: pp.id, ProducerID: fk.producerID, SSRC: f.ssrc}
	if err := c.call(f.to.worker, ipc.MethodPipeUnproduce, flow, nil); !isGone(err) {
		c.log.Warn("pipe unproduce failed", "pipe", pp.id, "err", err)
	}
	if err := c.call(f.from.worker, ipc.MethodPipeUnconsume, flow, nil); !isGone(err) {
		c.log.Warn("pipe unconsume failed", "pipe", pp.id, "err", err)
	}
}

// dropProducerFlows closes every flow of a producer that has ended, and the
// listeners' references to them.
func (c *Control) dropProducerFlows(r *room, producerID string) {
	for _, pp := range r.pipes {
		for fk, f := range pp.flows {
			if fk.producerID == producerID {
				c.closeFlow(pp, fk, f)
			}
		}
		c.closePairIfIdle(r, pp)
	}
	c.mu.Lock()
	for _, q := range r.peers {
		delete(q.flows, producerID)
	}
	c.mu.Unlock()
}

// flowTargets lists the workers a producer is piped to.
func (c *Control) flowTargets(r *room, producerID string) []int {
	var out []int
	for _, pp := range r.pipes {
		for fk := range pp.flows {
			if fk.producerID == producerID {
				out = append(out, fk.to)
			}
		}
	}
	return out
}

func (c *Control) closePairIfIdle(r *room, pp *pipePair) {
	if len(pp.flows) > 0 {
		return
	}
	for w := range pp.routers {
		if err := c.call(w, ipc.MethodPipeClose, ipc.PipeRef{PipeID: pp.id}, nil); !isGone(err) {
			c.log.Warn("pipe close failed", "pipe", pp.id, "worker", w, "err", err)
		}
	}
	for k, x := range r.pipes {
		if x == pp {
			delete(r.pipes, k)
		}
	}
}

// closePairsOf closes every pair touching a router that is going away.
func (c *Control) closePairsOf(r *room, rr *roomRouter) {
	for _, pp := range r.pipes {
		if pp.routers[rr.worker] != rr {
			continue
		}
		for fk, f := range pp.flows {
			c.closeFlow(pp, fk, f)
		}
		c.closePairIfIdle(r, pp)
	}
}
