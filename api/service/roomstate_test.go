package service

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
)

func TestRoomStatesDropWhatIsSettled(t *testing.T) {
	rs := newRoomStates(time.Minute)
	t0 := time.Now()

	unlock := rs.lockRehome("a")
	done := rs.markPlacing("a")
	require.True(t, rs.isPlacing("a"))
	unlock()
	require.Equal(t, 1, rs.len(), "still placing")
	done()
	require.False(t, rs.isPlacing("a"))
	require.Zero(t, rs.len(), "nothing left to say about a")

	require.True(t, rs.retryDue("b", time.Second, t0))
	require.False(t, rs.retryDue("b", time.Second, t0.Add(500*time.Millisecond)), "within the retry pace")
	require.True(t, rs.retryDue("b", time.Second, t0.Add(2*time.Second)), "a new period")
	rs.markMoved("c", t0)
	require.True(t, rs.cooling("c", time.Minute, t0.Add(30*time.Second)))
	require.True(t, rs.stuckOnce("c"))
	require.False(t, rs.stuckOnce("c"), "said once")
	rs.sweep(t0.Add(30 * time.Second))
	require.Equal(t, 2, rs.len(), "the cooldown still runs")
	rs.sweep(t0.Add(2 * time.Minute))
	require.Zero(t, rs.len(), "the cooldown passed")

	rs.markMoved("d", time.Now())
	unlock = rs.lockRehome("d")
	rs.forget("d")
	require.Equal(t, 1, rs.len(), "a holder is still busy with the deleted room")
	unlock()
	require.Zero(t, rs.len())
	require.False(t, rs.cooling("d", time.Minute, time.Now()), "a deleted room starts afresh")
}

// beatEvery keeps fake servers alive until the test ends.
func beatEvery(t *testing.T, every time.Duration, beats func()) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			beats()
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func TestALongRunLeavesNoPerRoomState(t *testing.T) {
	// Heartbeat 300 ms, not the unit tests' 100 ms: the API counts an own
	// beat back later than a heartbeat as the bus being away and forgives
	// the servers that outage, and under the race detector beside the whole
	// suite its beats came back late so often that z, silent, was never
	// declared dead within 15 s (twice).
	s, b := newTestServiceWith(t, func(p *Params) {
		p.MoveMargin, p.Rebalance, p.RebalanceCooldown = 0.5, true, time.Hour
		p.Heartbeat, p.DeadAfter = 300*time.Millisecond, 900*time.Millisecond
	})
	h := s.Handler()
	a, c, d := newFakeServer(t, b, "a"), newFakeServer(t, b, "c"), newFakeServer(t, b, "d")
	var mu sync.Mutex
	dDraining := false
	beatEvery(t, 50*time.Millisecond, func() {
		mu.Lock()
		defer mu.Unlock()
		a.beat(t, cluster.Heartbeat{Stress: 0.1, Spare: 1000})
		c.beat(t, cluster.Heartbeat{Stress: 0.1, Spare: 1000})
		// d takes nothing new (above high water), until it drains.
		d.beat(t, cluster.Heartbeat{Stress: 0.95, Spare: 0, Draining: dDraining})
	})
	require.Eventually(t, func() bool { return s.reg.Live("a") && s.reg.Live("c") && s.reg.Live("d") }, 2*time.Second, 10*time.Millisecond)

	// Creates, moves by the API, deletes.
	for i := range 40 {
		room := fmt.Sprintf("r%d", i)
		rec, _ := do(t, h, "POST", "/v1/rooms", key, `{"room": "`+room+`"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		rec, _ = do(t, h, "POST", "/v1/rooms/"+room+"/move", key, `{}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		if i%2 == 0 {
			rec, _ = do(t, h, "DELETE", "/v1/rooms/"+room, key, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		}
	}

	// Re-homes: the rooms of a server that dies.
	ctx := context.Background()
	z := newFakeServer(t, b, "z")
	z.beat(t, cluster.Heartbeat{Spare: 1000})
	for i := range 10 {
		_, _, err := s.p.Directory.Create(ctx, fmt.Sprintf("z%d", i), "z")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		rooms, err := s.p.Directory.List(ctx, "z")
		return err == nil && len(rooms) == 0
	}, 15*time.Second, 20*time.Millisecond, "z's rooms are re-homed once it is silent") // 5 s ran out once beside the whole suite on two cores

	// Drain moves, which keep a retry pace and the rebalance cooldown.
	for i := range 10 {
		_, _, err := s.p.Directory.Create(ctx, fmt.Sprintf("d%d", i), "d")
		require.NoError(t, err)
	}
	mu.Lock()
	dDraining = true
	mu.Unlock()
	rec, _ := do(t, h, "POST", "/v1/servers/d/drain", key, `{}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Eventually(t, func() bool {
		rooms, err := s.p.Directory.List(ctx, "d")
		return err == nil && len(rooms) == 0
	}, 5*time.Second, 20*time.Millisecond, "the draining server's rooms move away")
	require.NotZero(t, s.o.rooms.len(), "moved rooms keep their cooldown while they live")

	rooms, err := s.p.Directory.List(ctx, "")
	require.NoError(t, err)
	require.NotEmpty(t, rooms)
	for _, r := range rooms {
		rec, _ := do(t, h, "DELETE", "/v1/rooms/"+r.Name, key, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	require.Eventually(t, func() bool { return s.o.rooms.len() == 0 }, 2*time.Second, 10*time.Millisecond,
		"every room deleted: no state left behind")
}
