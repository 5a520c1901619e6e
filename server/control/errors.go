package control

import "errors"

// Sentinel errors of the control process.
var (
	ErrWorkerDown  = errors.New("worker is not running")
	ErrNoCapacity  = errors.New("no worker can take this peer")
	ErrRoomClosed  = errors.New("room closed")
	ErrNotJoined   = errors.New("not joined")
	ErrNotProducer = errors.New("peer may not publish")
)
