package control

import (
	"context"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
)

// localWorkers offers this server's worker processes to the room host.
type localWorkers struct{ c *Control }

func (w localWorkers) Candidates() []placement.Candidate {
	var out []placement.Candidate
	for _, s := range w.c.slots {
		if s.status().Ready {
			out = append(out, placement.Candidate{Ref: s.ref, Local: true})
		}
	}
	return out
}

func (w localWorkers) Client(ref cluster.WorkerRef) ipc.WorkerClient {
	if ref.Server != w.c.serverID || ref.Index < 0 || ref.Index >= len(w.c.slots) {
		return nil
	}
	return w.c.slots[ref.Index].client
}

// slotCaller calls the slot's current process, or fails with ErrWorkerDown.
type slotCaller struct{ s *workerSlot }

func (sc slotCaller) Call(ctx context.Context, method string, params, out any) error {
	return sc.s.call(ctx, method, params, out)
}

// workerEvent hands a worker's event to the room host.
func (c *Control) workerEvent(s *workerSlot, method string, raw []byte) {
	ev, err := ipc.DecodeEvent(method, raw)
	if err != nil {
		c.log.Warn("bad worker event", "worker", s.index, "err", err)
		return
	}
	if c.relays != nil && c.relays.workerEvent(s.ref, method, raw, ev) {
		return
	}
	c.host.HandleEvent(s.ref, ev)
}
