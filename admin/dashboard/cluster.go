package dashboard

import (
	"context"
	"strconv"
	"strings"

	"github.com/voicectl/voicectl/server/wire"
)

// fetchCluster reads a snapshot from the API: its servers, its rooms with
// their servers, and the open room's peers (room "" for none), which the
// API asks of the room's server.
func fetchCluster(ctx context.Context, cl ClusterSource, room string) (Snapshot, error) {
	var s Snapshot
	var err error
	if s.Servers, err = cl.Servers(ctx); err != nil {
		return s, err
	}
	if s.ClusterRooms, err = cl.ClusterRooms(ctx); err != nil {
		return s, err
	}
	if room != "" {
		d, err := cl.ClusterRoomPeers(ctx, room)
		if err == nil {
			s.Room = &d
		}
	}
	return s, nil
}

// filteredClusterRooms are the cluster's rooms whose name or server id
// holds the filter.
func (m Model) filteredClusterRooms() []wire.ClusterRoom {
	f := strings.ToLower(m.filter.Value())
	var out []wire.ClusterRoom
	for _, r := range m.snap.ClusterRooms {
		if f == "" || strings.Contains(strings.ToLower(r.Room), f) || strings.Contains(strings.ToLower(r.Server), f) {
			out = append(out, r)
		}
	}
	return out
}

// clusterRoomRows are the rooms page of a dashboard pointed at the API.
func (m *Model) clusterRoomRows() {
	m.rooms.header = []string{"ROOM", "SERVER", "SERVER STATE", "MOVES", "URL"}
	m.rooms.rows = nil
	for _, r := range m.filteredClusterRooms() {
		m.rooms.rows = append(m.rooms.rows, []string{r.Room, shortServer(r.Server), string(r.ServerState), strconv.Itoa(r.Moves), r.SignalURL})
	}
	m.rooms.clamp()
}

// shortServer is a server id as the servers page shows it.
func shortServer(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
