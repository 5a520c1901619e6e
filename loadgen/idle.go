package loadgen

import (
	"context"
	"time"
)

// idleDrain is how long paused publishers' last packets get to leave the
// server before the idle window opens.
const idleDrain = 500 * time.Millisecond

// measureIdle pauses every publisher for the scenario's idle window, reads what
// the server spent meanwhile, and splits the measurement window's figures in r
// into that background and a marginal cost per forwarded packet. windowAllocs
// are the workers' allocations over the window. The publishers resume after.
//
// Why: a worker's CPU per forwarded packet mixes two costs, one per packet
// (decrypting, the fan-out's encryption and sends) and one per connected peer
// whatever it sends (consent checks and answers, RFC 7675; RTCP reports; pion's
// ICE agent timers). Which dominates decides whether a worker is full by
// packets or by peers, and whether a change to the forwarding path helped.
func (s *Session) measureIdle(ctx context.Context, peers []*peer, r *Report, windowAllocs uint64) {
	if s.sc.IdleWindow <= 0 || r.ForwardedPackets == 0 {
		return
	}
	pause := func(paused bool) {
		for _, p := range peers {
			if p.publish {
				p.client().PausePublishing(paused)
			}
		}
	}
	pause(true)
	defer pause(false)
	select {
	case <-ctx.Done():
		return
	case <-time.After(idleDrain):
	}
	srv0 := s.serverTotals(ctx)
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return
	case <-time.After(s.sc.IdleWindow):
	}
	srv1 := s.serverTotals(ctx)
	if !srv0.ok || !srv1.ok {
		return
	}
	idle := &IdleReport{Seconds: time.Since(t0).Seconds(), ServerCPUSeconds: srv1.cpu - srv0.cpu, ForwardedPackets: srv1.forwarded - srv0.forwarded}
	idle.BackgroundCPUMillisPerSecond = 1000 * idle.ServerCPUSeconds / idle.Seconds
	idle.BackgroundAllocsPerSecond = float64(srv1.allocs-srv0.allocs) / idle.Seconds
	background := idle.BackgroundCPUMillisPerSecond / 1000 * r.DurationSeconds
	idle.MarginalCPUMicrosPerForwarded = (r.ServerCPUSeconds - background) * 1e6 / float64(r.ForwardedPackets)
	idle.MarginalAllocsPerForwarded = (float64(windowAllocs) - idle.BackgroundAllocsPerSecond*r.DurationSeconds) / float64(r.ForwardedPackets)
	r.Idle = idle
}
