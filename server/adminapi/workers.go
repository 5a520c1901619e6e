package adminapi

import (
	"context"
	"net/http"
	"time"

	"github.com/voicectl/voicectl/internal/procstat"
	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/supervisor"
	"github.com/voicectl/voicectl/server/wire"
)

func (a *API) workers(w http.ResponseWriter, r *http.Request) {
	reserved := a.p.Rooms.Loads()
	all := a.p.Workers.Workers()
	out := make([]wire.AdminWorker, 0, len(all))
	for i, st := range all {
		ref := a.p.Workers.Ref(i)
		aw := wire.AdminWorker{Index: i, PID: st.PID, Port: st.Port, Ready: st.Ready, Restarts: st.Restarts,
			ReservedLoad: reserved[ref].Units(), Capacity: a.p.Capacity}
		if st.Ready {
			// A stopped or hung worker must not hang the listing: its
			// figures stay 0 until it answers (or worker.hang_timeout
			// has it restarted).
			lctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			l, err := a.p.Workers.Client(ref).Load(lctx)
			cancel()
			if err == nil {
				aw.Routers, aw.Transports, aw.Producers, aw.Consumers = l.Routers, l.Transports, l.Producers, l.Consumers
				aw.Pipes, aw.PipeConsumers, aw.PipeProducers = l.Pipes, l.PipeConsumers, l.PipeProducers
				aw.PacketsIn, aw.PacketsOut = l.PacketsIn, l.PacketsOut
				aw.ForwardDelayMsP50, aw.ForwardDelayMsP99 = l.ForwardDelayMsP50, l.ForwardDelayMsP99
				aw.ForwardDelayBuckets = l.ForwardDelayBuckets
				aw.HeapAllocs, aw.Goroutines, aw.HeapBytes = l.HeapAllocs, l.Goroutines, l.HeapBytes
				aw.Load = l.Consumers + l.Producers + l.PipeConsumers
			}
			if cpu, err := procstat.CPUSeconds(st.PID); err == nil {
				aw.CPUSeconds = cpu
			}
			aw.RSSBytes, _ = procstat.RSSBytes(st.PID)
			aw.OpenFiles, _ = procstat.OpenFiles(st.PID)
			if smp, ok := a.p.Workers.LastSample(i); ok && smp.PID == st.PID {
				aw.PacketsInPerSecond, aw.PacketsOutPerSecond, aw.CPUPercent = smp.InRate, smp.OutRate, smp.CPUPercent
			}
		}
		aw.Stress = float64(max(aw.Load, aw.ReservedLoad)) / float64(aw.Capacity)
		out = append(out, aw)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) process(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, supervisor.ProcessStats())
}
