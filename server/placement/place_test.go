package placement

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
)

var (
	w0 = cluster.LocalWorker(cluster.Local, 0)
	w1 = cluster.LocalWorker(cluster.Local, 1)
	w2 = cluster.LocalWorker(cluster.Local, 2)
	r0 = cluster.LocalWorker("relay", 0)
	// ownerSide is a relay's stand-in for the routers of a room's owner.
	ownerSide = cluster.WorkerRef{Server: "owner", Index: -1}
)

func local(ws ...cluster.WorkerRef) []Candidate {
	var out []Candidate
	for _, w := range ws {
		out = append(out, Candidate{Ref: w, Local: true})
	}
	return out
}

func pub(w cluster.WorkerRef) Peer { return Peer{Router: w, Publish: true} }
func sub(w cluster.WorkerRef) Peer { return Peer{Router: w} }

func TestModel(t *testing.T) {
	tests := []struct {
		name  string
		rooms []Room
		n     int
		want  Loads
	}{
		{"two publishers talk", []Room{{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0)}}}, 0,
			Loads{w0: {Routers: 1, Peers: 2, Consumers: 2, Producers: 2}}},
		{"a listener consumes every publisher", []Room{{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), sub(w0)}}}, 0,
			Loads{w0: {Routers: 1, Peers: 3, Consumers: 4, Producers: 2}}},
		{"spread: far router holds pipe producers, near one pipe consumers",
			[]Room{{Routers: []cluster.WorkerRef{w0, w1}, Peers: []Peer{pub(w0), pub(w0), sub(w0), sub(w1), sub(w1)}}}, 0,
			Loads{w0: {Routers: 1, Peers: 3, Consumers: 4, Producers: 2, PipeConsumers: 2}, w1: {Routers: 1, Peers: 2, Consumers: 4, Producers: 2}}},
		{"loudest-N caps what each listener consumes",
			[]Room{{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), pub(w0), pub(w0), sub(w0)}}}, 2,
			Loads{w0: {Routers: 1, Peers: 5, Consumers: 10, Producers: 4}}},
		{"rooms add up", []Room{
			{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), sub(w0)}},
			{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), sub(w0)}},
		}, 0, Loads{w0: {Routers: 2, Peers: 4, Consumers: 2, Producers: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Model(tt.rooms, tt.n))
		})
	}
}

// The scenarios of server/control's process tests, as plain values.
func TestPlace(t *testing.T) {
	cap8 := Limits{MaxConsumers: 8, MaxProducers: 200, Headroom: 0.25}
	cap6 := Limits{MaxConsumers: 6, MaxProducers: 200, Headroom: 0.3}
	loud := Limits{MaxConsumers: 16, MaxProducers: 200, Headroom: 0.2, MaxForwardedSpeakers: 2}
	two := local(w0, w1)
	tests := []struct {
		name       string
		room       Room
		others     []Room
		publish    bool
		candidates []Candidate
		lim        Limits
		want       Decision
		err        error
	}{
		{"first peer of a room: least-loaded worker, new router", Room{}, nil, true, two, cap8, Decision{w0, true}, nil},
		{"ties go to the lower index", Room{}, nil, false, local(w1, w0), cap8, Decision{w0, true}, nil},
		{"the least-loaded fresh worker", Room{},
			[]Room{{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0)}}}, true, two, cap8, Decision{w1, true}, nil},
		{"the room's own router while it has room (up to capacity × (1 − headroom))",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0)}}, nil, false, two, cap8, Decision{w0, false}, nil},
		{"spread: a full router sends the listener to a new router on the other worker",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), sub(w0)}}, nil, false, two, cap8, Decision{w1, true}, nil},
		{"the spread room's second router before any fresh worker",
			Room{Routers: []cluster.WorkerRef{w0, w1}, Peers: []Peer{pub(w0), pub(w0), sub(w0), sub(w1)}}, nil, false, local(w0, w1, w2), cap8, Decision{w1, false}, nil},
		{"no_capacity when every placement overflows a worker",
			Room{Routers: []cluster.WorkerRef{w0, w1}, Peers: []Peer{pub(w0), pub(w0), sub(w0), sub(w1), sub(w1)}}, nil, false, two, cap8, Decision{}, ErrNoCapacity},
		{"no_capacity for another room's first peer when the workers are full", Room{},
			[]Room{{Routers: []cluster.WorkerRef{w0, w1}, Peers: []Peer{pub(w0), pub(w0), sub(w0), sub(w1), sub(w1)}}}, true, two, cap8, Decision{}, ErrNoCapacity},
		{"a relay checks only its own workers: the owner's side (external) may be past this server's limits",
			Room{Routers: []cluster.WorkerRef{ownerSide}, Peers: []Peer{pub(ownerSide), pub(ownerSide), pub(ownerSide)}, External: &ownerSide},
			nil, false, local(w0), cap8, Decision{w0, true}, nil},
		{"without external the same join overflows the owner's side",
			Room{Routers: []cluster.WorkerRef{ownerSide}, Peers: []Peer{pub(ownerSide), pub(ownerSide), pub(ownerSide)}},
			nil, false, local(w0), cap8, Decision{}, ErrNoCapacity},
		{"headroom: the second publisher goes to the other worker, piping both ways",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), sub(w0)}}, nil, true, two, cap6, Decision{w1, true}, nil},
		{"a pipe may not push the near worker over capacity",
			Room{Routers: []cluster.WorkerRef{w0, w1}, Peers: []Peer{pub(w0), sub(w0), pub(w1)}}, nil, false, two, cap6, Decision{}, ErrNoCapacity},
		{"loudest-N: four publishers fit one worker because each consumes two",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), pub(w0)}}, nil, true, two, loud, Decision{w0, false}, nil},
		{"loudest-N: the listener spreads, its worker holding four pipe producers",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), pub(w0), pub(w0)}}, nil, false, two, loud, Decision{w1, true}, nil},
		{"producers limit", Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0)}}, nil, true, local(w0),
			Limits{MaxConsumers: 100, MaxProducers: 2}, Decision{}, ErrNoCapacity},
		{"producers limit counts pipe producers on the far worker",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), pub(w0)}}, nil, false, local(w1),
			Limits{MaxConsumers: 100, MaxProducers: 2}, Decision{}, ErrNoCapacity},
		{"no candidates: no_capacity", Room{}, nil, true, nil, cap8, Decision{}, ErrNoCapacity},
		{"local workers before a relay server's, even a less loaded one",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0)}}, nil, false,
			append(local(w0), Candidate{Ref: r0}), cap8, Decision{w0, false}, nil},
		{"a relay server when the local workers are full",
			Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), sub(w0)}}, nil, false,
			append(local(w0), Candidate{Ref: r0}), cap8, Decision{r0, true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loads := Model(append([]Room{tt.room}, tt.others...), tt.lim.MaxForwardedSpeakers)
			got, err := Place(tt.room, tt.publish, tt.candidates, loads, tt.lim)
			require.ErrorIs(t, err, tt.err)
			require.Equal(t, tt.want, got)
			if err == nil {
				// The placement keeps every worker within capacity.
				grown := tt.room
				grown.Peers = append(append([]Peer{}, grown.Peers...), Peer{Router: got.Ref, Publish: tt.publish})
				if got.NewRouter {
					grown.Routers = append(append([]cluster.WorkerRef{}, grown.Routers...), got.Ref)
				}
				for w, l := range Model(append([]Room{grown}, tt.others...), tt.lim.MaxForwardedSpeakers) {
					if tt.room.External != nil && w == *tt.room.External {
						continue // another server's to account for
					}
					require.LessOrEqual(t, l.Units(), tt.lim.MaxConsumers, "worker %s", w)
				}
			}
		})
	}
}

func TestPlaceDoesNotChangeItsInputs(t *testing.T) {
	room := Room{Routers: []cluster.WorkerRef{w0}, Peers: []Peer{pub(w0), pub(w0), sub(w0)}}
	loads := Model([]Room{room}, 0)
	before := Loads{}
	for k, v := range loads {
		before[k] = v
	}
	cands := local(w1, w0)
	_, err := Place(room, false, cands, loads, Limits{MaxConsumers: 8, MaxProducers: 10, Headroom: 0.25})
	require.NoError(t, err)
	require.Equal(t, before, loads)
	require.Len(t, room.Peers, 3)
	require.Equal(t, local(w1, w0), cands)
}

func TestFull(t *testing.T) {
	lim := Limits{MaxConsumers: 10, Headroom: 0.2} // place capacity 8
	require.False(t, Full(local(w0, w1), Loads{w0: {Consumers: 8}, w1: {Consumers: 7}}, lim))
	require.True(t, Full(local(w0, w1), Loads{w0: {Consumers: 8}, w1: {Producers: 4, Consumers: 4}}, lim))
	require.True(t, Full(nil, Loads{}, lim), "no ready worker is full")
}

func TestAcceptingHighLowWater(t *testing.T) {
	tests := []struct {
		was    bool
		stress float64
		want   bool
	}{
		{true, 0.5, true},
		{true, 0.8, true},
		{true, 0.81, false},
		{false, 0.75, false}, // between the marks: stays stopped
		{false, 0.7, false},
		{false, 0.69, true},
		{true, 0.75, true}, // between the marks: keeps going
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Accepting(tt.was, tt.stress, 0.8, 0.7), "was %v stress %v", tt.was, tt.stress)
	}
	require.InDelta(t, 0.5, Stress(4, 8), 1e-9)
	require.Equal(t, 1.0, Stress(1, 0))
}
