package service

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/webhook"
)

type recEvents struct {
	mu  sync.Mutex
	evs []webhook.Event
}

func (r *recEvents) Emit(ev webhook.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recEvents) of(typ string) []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhook.Event
	for _, ev := range r.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func TestMovesAndDeadServersAreWebhookEvents(t *testing.T) {
	rec := &recEvents{}
	s, b := newTestServiceWith(t, func(p *Params) { p.MoveMargin, p.Events = 0.5, rec })
	a, c := newFakeServer(t, b, "a"), newFakeServer(t, b, "c")
	ctx := context.Background()
	for _, r := range []string{"standup", "retro"} {
		_, _, err := s.p.Directory.Create(ctx, r, "a")
		require.NoError(t, err)
	}
	a.beat(t, cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{"standup": 10, "retro": 10}})
	c.beat(t, cluster.Heartbeat{Spare: 500})
	require.Eventually(t, func() bool { return s.reg.Live("a") && s.reg.Live("c") }, 2*time.Second, 10*time.Millisecond)

	rr, _ := do(t, s.Handler(), "POST", "/v1/rooms/standup/move", key, `{"to": "c"}`)
	require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())
	moved := rec.of(webhook.RoomMoved)
	require.Len(t, moved, 1)
	require.Equal(t, "standup", moved[0].Room)
	require.Equal(t, "a", moved[0].From)
	require.Equal(t, "c", moved[0].Server)

	// a goes silent (c keeps beating): declared dead, its room re-homed.
	// beatEvery stops its beats before the test's clean-ups close the bus
	// (a goroutine of its own beat on a closed bus and failed the test once).
	beatEvery(t, 50*time.Millisecond, func() { c.beat(t, cluster.Heartbeat{Spare: 500}) })
	require.Eventually(t, func() bool { return len(rec.of(webhook.ServerDead)) == 1 && len(rec.of(webhook.RoomMoved)) == 2 },
		5*time.Second, 20*time.Millisecond)
	dead := rec.of(webhook.ServerDead)[0]
	require.Equal(t, "a", dead.Server)
	require.Equal(t, []string{"retro"}, dead.Rooms)
	re := rec.of(webhook.RoomMoved)[1]
	require.Equal(t, "retro", re.Room)
	require.Equal(t, "a", re.From)
	require.Equal(t, "c", re.Server)
	ids := map[string]bool{}
	for _, ev := range rec.evs {
		require.False(t, ids[ev.ID])
		ids[ev.ID] = true
	}
	require.True(t, slices.IndexFunc(rec.evs, func(e webhook.Event) bool { return e.Type == webhook.ServerDead }) <
		slices.IndexFunc(rec.evs, func(e webhook.Event) bool { return e.Room == "retro" }), "server_dead comes before its rooms' moves")
}
