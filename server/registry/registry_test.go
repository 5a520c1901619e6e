package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
)

func srv(id string, stress float64) Server {
	return Server{Heartbeat: cluster.Heartbeat{Server: cluster.ServerID(id), Stress: stress}}
}

func TestCandidates(t *testing.T) {
	dead := srv("d", 0)
	dead.Dead = true
	draining := srv("dr", 0)
	draining.Draining = true
	burst := srv("burst", 0.1)
	burst.PlacedSince = 10 // 0.1 + 10 × 0.02 = 0.3
	unheard := srv("u", 0)
	unheard.Unheard = true
	offBus := srv("o", 0)
	offBus.OffBus = true
	// Its heartbeat came after a room was placed on it: nobody joined the
	// room, so its stress is 0 as the others', and only the room tells it apart.
	emptyRoom := srv("a", 0)
	emptyRoom.Rooms = []string{"alpha"}
	relaying := srv("b", 0)
	relaying.RelayRooms = 1
	inFlight := srv("a", 0)
	inFlight.Placing = 1 // asked, not answered yet
	crowded := srv("crowded", 0.1)
	crowded.Placing, crowded.PlacedSince = 21, 15 // 0.1 + 36 × 0.02 = 0.82, over high water
	tests := []struct {
		name    string
		servers []Server
		exclude []cluster.ServerID
		want    []cluster.ServerID
	}{
		{"least stressed first", []Server{srv("a", 0.5), srv("b", 0.1), srv("c", 0.3)}, nil, []cluster.ServerID{"b", "c", "a"}},
		{"ties by id", []Server{srv("b", 0.2), srv("a", 0.2)}, nil, []cluster.ServerID{"a", "b"}},
		{"with one server loaded, the others first", []Server{srv("loaded", 0.75), srv("x", 0), srv("y", 0)}, nil, []cluster.ServerID{"x", "y", "loaded"}},
		{"above high water, dead or draining: none", []Server{srv("hot", 0.81), dead, draining}, nil, []cluster.ServerID{}},
		{"rooms placed since the last heartbeat count", []Server{burst, srv("q", 0.25)}, nil, []cluster.ServerID{"q", "burst"}},
		{"equal stress: fewer rooms first", []Server{emptyRoom, relaying, srv("c", 0)}, nil, []cluster.ServerID{"c", "a", "b"}},
		{"excluded", []Server{srv("a", 0), srv("b", 0.5)}, []cluster.ServerID{"a"}, []cluster.ServerID{"b"}},
		{"a placement in flight counts before its answer", []Server{inFlight, srv("b", 0)}, nil, []cluster.ServerID{"b", "a"}},
		{"placements in flight count toward high water", []Server{crowded, srv("q", 0.7)}, nil, []cluster.ServerID{"q"}},
		{"seen but never heard: nothing known of its load", []Server{unheard, srv("h", 0.7)}, nil, []cluster.ServerID{"h"}},
		{"off the bus: it would not hear the create", []Server{offBus, srv("h", 0.7)}, nil, []cluster.ServerID{"h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Candidates(tt.servers, 0.8, tt.exclude...))
		})
	}
}

func TestRegistryDeathAndRevival(t *testing.T) {
	r := New(3 * time.Second)
	t0 := time.Now()
	require.False(t, r.Observe(cluster.Heartbeat{Server: "a", Stress: 0.1}, t0).Revived)
	r.Observe(cluster.Heartbeat{Server: "b"}, t0)
	r.Placed("a")
	r.Placed("a")
	s, _ := r.Get("a")
	require.Equal(t, 2, s.PlacedSince)
	require.Empty(t, r.Reap(t0.Add(2*time.Second)))
	r.Observe(cluster.Heartbeat{Server: "b"}, t0.Add(2*time.Second))
	require.Equal(t, []cluster.ServerID{"a"}, r.Reap(t0.Add(4*time.Second)), "a is silent past dead_after")
	require.Empty(t, r.Reap(t0.Add(4*time.Second)), "declared once")
	require.False(t, r.Live("a"))
	require.True(t, r.Live("b"))
	require.True(t, r.Observe(cluster.Heartbeat{Server: "a"}, t0.Add(5*time.Second)).Revived, "a came back")
	s, _ = r.Get("a")
	require.Zero(t, s.PlacedSince, "a heartbeat shows what was placed")
	require.Len(t, r.Snapshot(), 2)
}

func TestExcuseGivesSilentServersAFullDeadAfter(t *testing.T) {
	r := New(time.Second)
	t0 := time.Now()
	r.Observe(cluster.Heartbeat{Server: "a"}, t0)
	r.Excuse(t0.Add(5 * time.Second)) // the API was cut off for 5 s
	require.Empty(t, r.Reap(t0.Add(5500*time.Millisecond)))
	require.Equal(t, []cluster.ServerID{"a"}, r.Reap(t0.Add(6500*time.Millisecond)))
}

// A short outage of the API's own forgives only its own length: a server
// silent long before it stays due, one heard until it began gets a full
// dead_after.
func TestExcuseForForgivesTheOutageOnly(t *testing.T) {
	r := New(time.Second)
	t0 := time.Now()
	r.Observe(cluster.Heartbeat{Server: "gone"}, t0)
	r.Observe(cluster.Heartbeat{Server: "here"}, t0.Add(900*time.Millisecond))
	// The API's own beats were late from 0.9 s to 1.1 s.
	r.ExcuseFor(t0.Add(1100*time.Millisecond), 200*time.Millisecond)
	require.Equal(t, []cluster.ServerID{"gone"}, r.Reap(t0.Add(1300*time.Millisecond)), "0.2 s forgiven of its 1.3 s")
	require.Empty(t, r.Reap(t0.Add(2000*time.Millisecond)))
	require.Equal(t, []cluster.ServerID{"here"}, r.Reap(t0.Add(2200*time.Millisecond)), "a full second from the outage's end")
}

func TestSeenHeardDrainingAndForget(t *testing.T) {
	r := New(time.Second)
	t0 := time.Now()
	r.Seen("s", t0)
	require.True(t, r.Heard("s", t0.Add(time.Second)), "it spoke to us: alive before any heartbeat")
	require.False(t, r.Heard("s", t0.Add(1500*time.Millisecond)), "silent past dead_after, even before a Reap")
	require.Empty(t, Candidates(r.Snapshot(), 0.8), "nothing is placed on a server whose load is unknown")
	o := r.Observe(cluster.Heartbeat{Server: "s", Stress: 0.2}, t0.Add(time.Second))
	require.False(t, o.BeganDraining)
	require.Equal(t, []cluster.ServerID{"s"}, Candidates(r.Snapshot(), 0.8), "heard now")
	o = r.Observe(cluster.Heartbeat{Server: "s", Draining: true}, t0.Add(time.Second))
	require.True(t, o.BeganDraining)
	require.True(t, r.Draining("s"))
	require.False(t, r.Observe(cluster.Heartbeat{Server: "s", Draining: true}, t0.Add(time.Second)).BeganDraining, "said once")
	require.Equal(t, cluster.ServerDraining, func() cluster.ServerState { s, _ := r.Get("s"); return s.State() }())
	require.Equal(t, []cluster.ServerID{"s"}, r.Reap(t0.Add(3*time.Second)))
	r.Forget("s")
	_, known := r.Get("s")
	require.False(t, known)
	require.False(t, r.Draining("s"))
}

func TestReserveSpreadsPlacementsInFlight(t *testing.T) {
	r := New(time.Second)
	t0 := time.Now()
	for _, id := range []cluster.ServerID{"a", "b", "c"} {
		r.Observe(cluster.Heartbeat{Server: id}, t0)
	}
	var got []cluster.ServerID
	var dones []func(bool)
	for range 4 {
		id, done, ok := r.Reserve(0.8)
		require.True(t, ok)
		got = append(got, id)
		dones = append(dones, done)
	}
	require.Equal(t, []cluster.ServerID{"a", "b", "c", "a"}, got, "each reservation counts at once: a burst spreads")
	// A heartbeat sent before the room was made does not clear what is in flight.
	r.Observe(cluster.Heartbeat{Server: "a"}, t0)
	s, _ := r.Get("a")
	require.Equal(t, 2, s.Placing)
	dones[0](true)
	dones[0](true) // said once
	dones[3](false)
	s, _ = r.Get("a")
	require.Equal(t, 0, s.Placing, "answered or failed: no longer in flight")
	require.Equal(t, 1, s.PlacedSince, "the room placed counts until the next heartbeat")
	id, _, ok := r.Reserve(0.8, "b", "c")
	require.True(t, ok)
	require.Equal(t, cluster.ServerID("a"), id)
	_, _, ok = r.Reserve(0.8, "a", "b", "c")
	require.False(t, ok, "none left")
	r.Forget("b")
	dones[1](true) // a server forgotten meanwhile: nothing to count
}

// TestAProbeKeepsASilentServerLive: a server silent on the bus that answers
// the API's probe stays live (off the bus, no new rooms) and is declared dead
// only once neither a heartbeat nor a probe came for dead_after.
func TestAProbeKeepsASilentServerLive(t *testing.T) {
	r := New(time.Second)
	t0 := time.Now()
	require.True(t, r.Observe(cluster.Heartbeat{Server: "a"}, t0).First)
	require.False(t, r.Observe(cluster.Heartbeat{Server: "a"}, t0).First)
	r.Observe(cluster.Heartbeat{Server: "b"}, t0)
	require.Empty(t, r.Silent(t0.Add(400*time.Millisecond), 500*time.Millisecond))
	require.Equal(t, []cluster.ServerID{"a", "b"}, r.Silent(t0.Add(600*time.Millisecond), 500*time.Millisecond))
	require.False(t, r.Declare("a", t0.Add(900*time.Millisecond)), "not silent past dead_after yet")

	r.Vouch("a", t0.Add(600*time.Millisecond), t0.Add(900*time.Millisecond))
	a, _ := r.Get("a")
	require.True(t, a.OffBus)
	require.Empty(t, Candidates(r.Snapshot()[:1], 0.8), "no new room on a server off the bus")
	require.False(t, r.Declare("a", t0.Add(1500*time.Millisecond)), "the probe counts as a sign of life")
	require.True(t, r.Heard("a", t0.Add(1500*time.Millisecond)))
	require.True(t, r.Declare("b", t0.Add(1500*time.Millisecond)))
	require.False(t, r.Declare("b", t0.Add(1600*time.Millisecond)), "dies once")
	require.False(t, r.Live("b"))
	require.True(t, r.Declare("a", t0.Add(2*time.Second)))

	// A heartbeat brings it back on the bus.
	r.Observe(cluster.Heartbeat{Server: "a"}, t0.Add(2100*time.Millisecond))
	a, _ = r.Get("a")
	require.False(t, a.OffBus)
	require.False(t, a.Dead)
	r.Vouch("b", t0.Add(2000*time.Millisecond), t0.Add(2100*time.Millisecond))
	require.False(t, r.Live("b"), "a probe revives no dead server: only its heartbeat does")
}

func TestAProbeAnsweredAfterAHeartbeatLeavesTheServerOnTheBus(t *testing.T) {
	r := New(time.Second)
	t0 := time.Now()
	r.Observe(cluster.Heartbeat{Server: "a"}, t0)
	// Silent, probed at 600 ms; its heartbeat comes at 700 ms, the probe's
	// answer at 800 ms: it is back on the bus.
	r.Observe(cluster.Heartbeat{Server: "a"}, t0.Add(700*time.Millisecond))
	r.Vouch("a", t0.Add(600*time.Millisecond), t0.Add(800*time.Millisecond))
	a, _ := r.Get("a")
	require.False(t, a.OffBus, "a heartbeat came after the probe was sent")
	require.Equal(t, t0.Add(800*time.Millisecond), a.VouchedAt, "the answer is a sign of life all the same")
	// Silent again: a probe sent after its last heartbeat puts it off the bus.
	r.Vouch("a", t0.Add(1300*time.Millisecond), t0.Add(1400*time.Millisecond))
	a, _ = r.Get("a")
	require.True(t, a.OffBus)
}
