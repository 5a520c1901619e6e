package adminapi

import (
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/supervisor"
	"github.com/voicectl/voicectl/server/wire"
)

// Rooms is what the admin API reads and changes of the room host.
type Rooms interface {
	Loads() placement.Loads
	Counts() (rooms, peers int)
	Rooms() []wire.AdminRoom
	Room(name string) (wire.AdminRoomDetail, error)
	Pipes() []wire.AdminPipe
	CloseRoom(name string) (int, error)
	Kick(room, peer string) (roomhost.PeerRef, error)
	MutePeer(room, peer string, muted bool) (roomhost.PeerRef, error)
}

// Workers is what the admin API reads of the worker supervisor.
type Workers interface {
	Workers() []supervisor.WorkerStatus
	Ref(i int) cluster.WorkerRef
	Client(ref cluster.WorkerRef) ipc.WorkerClient
	LastSample(i int) (supervisor.Sample, bool)
}

var (
	_ Rooms   = (*roomhost.Host)(nil)
	_ Workers = (*supervisor.Supervisor)(nil)
)
