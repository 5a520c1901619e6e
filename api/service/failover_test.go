package service

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
	"github.com/voicectl/voicectl/server/wire"
)

// frozenBus is a local bus whose events stop flowing while frozen, as a
// SIGSTOPped broker's do (its TCP connection stays up).
type frozenBus struct {
	*bus.Local
	frozen atomic.Bool
}

func (f *frozenBus) Publish(ctx context.Context, key string, ev bus.Envelope) error {
	if f.frozen.Load() {
		return nil // taken, never delivered
	}
	return f.Local.Publish(ctx, key, ev)
}

// beating keeps a fake server's heartbeats going until the test ends or stop
// is closed.
func beating(t *testing.T, f *fakeServer, hb func() cluster.Heartbeat, stop <-chan struct{}) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			f.beat(t, hb())
			select {
			case <-done:
				return
			case <-stop:
				return
			case <-tk.C:
			}
		}
	})
	t.Cleanup(func() { close(done); wg.Wait() })
}

// TestAFrozenBrokerDeclaresNobodyDead: while the broker carries nothing (the
// API's own beats do not come back), servers silent past dead_after stay
// live, and when it resumes they get dead_after again: no room moves.
func TestAFrozenBrokerDeclaresNobodyDead(t *testing.T) {
	fb := &frozenBus{Local: bus.NewLocal()}
	t.Cleanup(func() { _ = fb.Close() })
	s, _ := newTestServiceWith(t, func(p *Params) { p.Bus = fb })
	a, b := newFakeServer(t, fb.Local, "a"), newFakeServer(t, fb.Local, "b")
	ctx := context.Background()
	_, _, err := s.p.Directory.Create(ctx, "standup", "a")
	require.NoError(t, err)
	var frozen atomic.Bool
	for _, f := range []*fakeServer{a, b} {
		beating(t, f, func() cluster.Heartbeat {
			if frozen.Load() {
				return cluster.Heartbeat{} // never delivered anyway
			}
			return cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{}}
		}, nil)
	}
	require.Eventually(t, func() bool { return s.reg.Live("a") && s.reg.Live("b") }, 2*time.Second, 10*time.Millisecond)

	fb.frozen.Store(true)
	frozen.Store(true)
	time.Sleep(3 * s.p.DeadAfter) // the freeze itself: nothing to wait on
	require.True(t, s.reg.Live("a"), "a frozen broker is no server's death")
	require.True(t, s.reg.Live("b"))
	fb.frozen.Store(false)
	frozen.Store(false)
	time.Sleep(2 * s.p.DeadAfter)
	r, err := s.p.Directory.Get(ctx, "standup")
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("a"), r.Server)
	require.Zero(t, r.Moves)
	require.True(t, s.reg.Live("a"))
}

// TestAServerThatAnswersTheProbeKeepsItsRooms: a server silent on the bus
// whose probe answers stays live off the bus and keeps its room; one whose
// probe fails too is declared dead and its room re-homed.
func TestAServerThatAnswersTheProbeKeepsItsRooms(t *testing.T) {
	var cutOff atomic.Bool
	var probes atomic.Int64
	s, b := newTestServiceWith(t, func(p *Params) {
		p.Probe = func(_ context.Context, srv registry.Server) error {
			probes.Add(1)
			if srv.Server == "a" && !cutOff.Load() {
				return nil
			}
			return errors.New("connection refused")
		}
	})
	a, c := newFakeServer(t, b, "a"), newFakeServer(t, b, "c")
	ctx := context.Background()
	_, _, err := s.p.Directory.Create(ctx, "standup", "a")
	require.NoError(t, err)
	stopA := make(chan struct{})
	beating(t, a, func() cluster.Heartbeat {
		return cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{"standup": 2}}
	}, stopA)
	beating(t, c, func() cluster.Heartbeat { return cluster.Heartbeat{Spare: 100} }, nil)
	require.Eventually(t, func() bool { return s.reg.Live("a") && s.reg.Live("c") }, 2*time.Second, 10*time.Millisecond)

	close(stopA) // a is cut from the broker; its probe still answers
	require.Eventually(t, func() bool { srv, _ := s.reg.Get("a"); return srv.OffBus }, 2*time.Second, 10*time.Millisecond)
	time.Sleep(3 * s.p.DeadAfter)
	require.True(t, s.reg.Live("a"), "a server that answers the probe is alive")
	r, err := s.p.Directory.Get(ctx, "standup")
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("a"), r.Server, "its room stays")
	require.Positive(t, probes.Load())
	require.Positive(t, testutil.ToFloat64(s.o.probes.WithLabelValues("alive")))
	rec, _ := do(t, s.Handler(), "POST", "/v1/rooms/standup/join", key, `{"identity": "late"}`)
	require.Contains(t, rec.Body.String(), `"server":"a"`, "joins keep landing on it")
	rec, _ = do(t, s.Handler(), "GET", "/v1/servers", key, "")
	var ss []wire.ClusterServer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ss))
	byID := map[string]wire.ClusterServer{}
	for _, srv := range ss {
		byID[srv.ID] = srv
	}
	require.Equal(t, cluster.ServerLive, byID["a"].State)
	require.True(t, byID["a"].OffBus, "GET /v1/servers tells a server cut from the broker from a dead one: %s", rec.Body.String())
	require.False(t, byID["a"].ProbeAnsweredAt.IsZero())
	require.False(t, byID["c"].OffBus, "c is heard on the bus")

	cutOff.Store(true) // now gone on both channels
	require.Eventually(t, func() bool {
		r, err := s.p.Directory.Get(ctx, "standup")
		return err == nil && r.Server == "c"
	}, 3*time.Second, 10*time.Millisecond, "a server gone on both channels has its room re-homed")
	require.Positive(t, testutil.ToFloat64(s.o.probes.WithLabelValues("failed")))
}

// TestARehomeIsAbandonedWhenTheServerComesBack: the placement of a re-home
// waits; the old home's heartbeat comes meanwhile: the directory keeps it,
// and the server that took the room gives it up.
func TestARehomeIsAbandonedWhenTheServerComesBack(t *testing.T) {
	s, b := newTestService(t, false)
	a := newFakeServer(t, b, "a")
	ctx := context.Background()
	_, _, err := s.p.Directory.Create(ctx, "standup", "a")
	require.NoError(t, err)

	// c takes the room only once the test says so, and records releases.
	release := make(chan struct{})
	var released, asked atomic.Int64
	m := bus.NewMux("c")
	bus.Handle(m, bus.CreateRoom, func(ctx context.Context, _ bus.Envelope, r cluster.RoomCreate) (cluster.RoomInfo, error) {
		asked.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return cluster.RoomInfo{}, ctx.Err()
		}
		return cluster.RoomInfo{Room: r.Room, Server: "c", SignalURL: "http://c.test"}, nil
	})
	bus.Handle(m, bus.ReleaseRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (cluster.Result, error) {
		released.Add(1)
		return cluster.Result{OK: true}, nil
	})
	sub, err := b.Serve(bus.ServerQueue("c"), m.Serve)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Cancel() })
	c := &fakeServer{id: "c", b: b, url: "http://c.test"}
	beating(t, c, func() cluster.Heartbeat { return cluster.Heartbeat{Spare: 100} }, nil)

	a.beat(t, cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{"standup": 2}})
	require.Eventually(t, func() bool { return !s.reg.Live("a") }, 2*time.Second, 10*time.Millisecond, "a declared dead")
	require.Eventually(t, func() bool { return asked.Load() > 0 }, 2*time.Second, 10*time.Millisecond, "the re-home asks c")
	// The re-home is waiting on c; a comes back.
	a.beat(t, cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{"standup": 2}})
	require.True(t, s.reg.Live("a"))
	close(release)
	require.Eventually(t, func() bool { return released.Load() == 1 }, 2*time.Second, 10*time.Millisecond, "c gives the abandoned room up")
	r, err := s.p.Directory.Get(ctx, "standup")
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("a"), r.Server, "the room stays on its server, back")
	require.Zero(t, r.Moves)
}
