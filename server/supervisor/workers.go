package supervisor

import (
	"context"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/roomhost"
)

var _ roomhost.Workers = (*Supervisor)(nil)

// Candidates implements roomhost.Workers: the workers that are up.
func (s *Supervisor) Candidates() []placement.Candidate {
	var out []placement.Candidate
	for _, sl := range s.slots {
		if sl.status().Ready {
			out = append(out, placement.Candidate{Ref: sl.ref, Local: true})
		}
	}
	return out
}

// Client implements roomhost.Workers: the client of one of this server's
// workers, nil for any other ref.
func (s *Supervisor) Client(ref cluster.WorkerRef) ipc.WorkerClient {
	if ref.Server != s.p.ServerID || ref.Index < 0 || ref.Index >= len(s.slots) {
		return nil
	}
	return s.slots[ref.Index].client
}

// Call sends a raw request to worker i (a relayed owner's call), or fails
// with ipc.ErrWorkerDown while it is not up.
func (s *Supervisor) Call(ctx context.Context, i int, method string, params, out any) error {
	return s.slots[i].call(ctx, method, params, out)
}

// slotCaller calls the slot's current process, or fails with ErrWorkerDown.
type slotCaller struct{ s *slot }

func (sc slotCaller) Call(ctx context.Context, method string, params, out any) error {
	return sc.s.call(ctx, method, params, out)
}

// event decodes a worker's event and hands it on.
func (s *Supervisor) event(sl *slot, method string, raw []byte) {
	ev, err := ipc.DecodeEvent(method, raw)
	if err != nil {
		s.log.Warn("bad worker event", "worker", sl.index, "err", err)
		return
	}
	if s.p.OnEvent != nil {
		s.p.OnEvent(sl.ref, method, raw, ev)
	}
}
