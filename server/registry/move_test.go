package registry

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
)

func spare(id string, units int) Server {
	return Server{Heartbeat: cluster.Heartbeat{Server: cluster.ServerID(id), Spare: units}}
}

func TestMoveTarget(t *testing.T) {
	dead := spare("dead", 5000)
	dead.Dead = true
	draining := spare("draining", 5000)
	draining.Draining = true
	busy := spare("busy", 400)
	busy.MovedIn = 300 // a room moved there since its heartbeat: 100 left
	tests := []struct {
		name    string
		servers []Server
		units   int
		want    cluster.ServerID
		ok      bool
	}{
		{"the most spare wins", []Server{spare("a", 200), spare("b", 900), spare("c", 500)}, 100, "b", true},
		{"ties by id", []Server{spare("b", 500), spare("a", 500)}, 100, "a", true},
		{"not the room's own server", []Server{spare("from", 9000), spare("a", 200)}, 100, "a", true},
		{"the margin must fit: 100 units need 150", []Server{spare("a", 149)}, 100, "", false},
		{"exactly the margin fits", []Server{spare("a", 150)}, 100, "a", true},
		{"dead and draining servers take nothing", []Server{dead, draining, spare("a", 10)}, 100, "", false},
		{"rooms moved in since the heartbeat count", []Server{busy, spare("q", 160)}, 100, "q", true},
		{"an empty room fits anywhere live", []Server{spare("a", 0)}, 0, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MoveTarget(tt.servers, "from", tt.units, 0.5)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFitsSaysWhy(t *testing.T) {
	dead := spare("d", 1000)
	dead.Dead = true
	require.ErrorIs(t, Fits(dead, 1, 0.5), ErrDead)
	draining := spare("dr", 1000)
	draining.Draining = true
	require.ErrorIs(t, Fits(draining, 1, 0.5), ErrDraining)
	require.ErrorIs(t, Fits(spare("s", 10), 10, 0.5), ErrFull)
	require.NoError(t, Fits(spare("s", 15), 10, 0.5))
	require.Equal(t, 15, Needs(10, 0.5))
	require.Equal(t, 0, Needs(0, 0.5))
}
