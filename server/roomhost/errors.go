package roomhost

import (
	"errors"

	"github.com/voicectl/voicectl/server/placement"
)

// Sentinel errors of the room host.
var (
	// ErrNoCapacity: no worker can take the peer.
	ErrNoCapacity = placement.ErrNoCapacity
	// ErrUnavailable: the host is draining and takes no joins.
	ErrUnavailable = errors.New("server is stopping")
	// ErrRoomClosed: the room closed (or is closing) under the join.
	ErrRoomClosed = errors.New("room closed")
	// ErrNotJoined: no such peer is joined.
	ErrNotJoined = errors.New("not joined")
	// ErrNotProducer: the peer may not publish.
	ErrNotProducer = errors.New("peer may not publish")
	// ErrNotOwner: in a cluster, the room is not hosted here.
	ErrNotOwner = errors.New("this server does not host the room")
	// ErrNotFound answers admin look-ups of unknown rooms and peers.
	ErrNotFound = errors.New("not found")
)

// notFoundError names what was not found; it is ErrNotFound.
type notFoundError struct{ what string }

func (e notFoundError) Error() string        { return e.what + " not found" }
func (e notFoundError) Is(target error) bool { return target == ErrNotFound }
