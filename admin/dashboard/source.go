package dashboard

import (
	"context"

	"github.com/voicectl/voicectl/server/wire"
)

// Source is where the dashboard reads and acts; *admin.Client is one.
type Source interface {
	Workers(ctx context.Context) ([]wire.AdminWorker, error)
	Rooms(ctx context.Context) ([]wire.AdminRoom, error)
	Room(ctx context.Context, id string) (wire.AdminRoomDetail, error)
	Pipes(ctx context.Context) ([]wire.AdminPipe, error)
	CloseRoom(ctx context.Context, id string) (wire.AdminResult, error)
	Kick(ctx context.Context, room, peer string) (wire.AdminResult, error)
	Mute(ctx context.Context, room, peer string, muted bool) (wire.AdminResult, error)
}

// Snapshot is one refresh of everything shown.
type Snapshot struct {
	Workers []wire.AdminWorker
	Rooms   []wire.AdminRoom
	Pipes   []wire.AdminPipe
	// Room is the open room's detail, when a room is open.
	Room *wire.AdminRoomDetail
	// Servers and ClusterRooms are the cluster's, when the dashboard shows a
	// cluster (Room is then read through the API).
	Servers      []wire.ClusterServer
	ClusterRooms []wire.ClusterRoom
}

// fetch reads a snapshot; room is the open room ("" for none).
func fetch(ctx context.Context, src Source, room string) (Snapshot, error) {
	var s Snapshot
	var err error
	if s.Workers, err = src.Workers(ctx); err != nil {
		return s, err
	}
	if s.Rooms, err = src.Rooms(ctx); err != nil {
		return s, err
	}
	if s.Pipes, err = src.Pipes(ctx); err != nil {
		return s, err
	}
	if room != "" {
		d, err := src.Room(ctx, room)
		if err == nil {
			s.Room = &d
		}
	}
	return s, nil
}
