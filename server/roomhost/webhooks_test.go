package roomhost

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/webhook"
)

// recEvents records the webhook events a host emits.
type recEvents struct {
	mu  sync.Mutex
	evs []webhook.Event
}

func (r *recEvents) Emit(ev webhook.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// lines is each event as "type identity reason".
func (r *recEvents) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		l := ev.Type
		if ev.Participant != nil {
			l += " " + ev.Participant.Identity
		}
		if ev.Reason != "" {
			l += " " + ev.Reason
		}
		out = append(out, l)
	}
	return out
}

func TestRoomLifecycleEmitsWebhookEventsInOrder(t *testing.T) {
	ws := []*fakeWorker{newFakeWorker(0)}
	rec := &recEvents{}
	h := New(Params{Workers: fakeWorkers{ws}, Limits: roomy, PipeListenIP: "127.0.0.1", CallTimeout: 5 * time.Second,
		Events: rec, Server: "srv-1"})
	t.Cleanup(h.Stop)
	th := &testHost{t: t, h: h, ws: ws}

	alice, _ := th.join("standup", "alice", true)
	bob, _ := th.join("standup", "bob", false)
	carol, _ := th.join("standup", "carol", false)
	_, err := h.Kick("standup", bob)
	require.NoError(t, err)
	h.Leave(bob) // its session's end, after the kick
	h.TimedOut(carol)
	h.Leave(carol)
	h.Leave(alice)
	th.settle()
	require.Equal(t, []string{
		"room_started",
		"participant_joined alice", "participant_joined bob", "participant_joined carol",
		"participant_left bob kicked", "participant_left carol timed_out", "participant_left alice left",
		"room_finished",
	}, rec.lines())
	ids := map[string]bool{}
	for _, ev := range rec.evs {
		require.Equal(t, "standup", ev.Room)
		require.Equal(t, "srv-1", ev.Server)
		require.False(t, ids[ev.ID], "ids are unique")
		ids[ev.ID] = true
	}

	// A move: its peers leave as moved, and the room starts anew later.
	rec.evs = nil
	dave, _ := th.join("standup", "dave", true)
	h.Move("standup", "http://other", "srv-2")
	h.Leave(dave)
	th.settle()
	require.Equal(t, []string{"room_started", "participant_joined dave", "participant_left dave moved", "room_finished"}, rec.lines())
}
