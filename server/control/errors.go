package control

import (
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/roomhost"
)

// Sentinel errors of the control process (the room host's and the IPC's, by
// the names this package has always used).
var (
	ErrWorkerDown  = ipc.ErrWorkerDown
	ErrNoCapacity  = roomhost.ErrNoCapacity
	ErrRoomClosed  = roomhost.ErrRoomClosed
	ErrNotJoined   = roomhost.ErrNotJoined
	ErrNotProducer = roomhost.ErrNotProducer
)
