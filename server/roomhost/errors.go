package roomhost

import (
	"github.com/voicectl/voicectl/server/placement"
	"github.com/voicectl/voicectl/server/wire"
)

// Sentinel errors of the room host; each carries the code it is answered
// with (wire.CodeOf), to a client and on the admin API alike.
var (
	// ErrNoCapacity: no worker can take the peer.
	ErrNoCapacity = placement.ErrNoCapacity
	// ErrUnavailable: the host is draining and takes no joins.
	ErrUnavailable = wire.NewError(wire.CodeUnavailable, "server is stopping")
	// ErrRoomClosed: the room closed (or is closing) under the join.
	ErrRoomClosed = wire.NewError(wire.CodeUnavailable, "room closed")
	// ErrNotJoined: no such peer is joined.
	ErrNotJoined = wire.NewError(wire.CodeNotJoined, "not joined")
	// ErrNotProducer: the peer may not publish.
	ErrNotProducer = wire.NewError(wire.CodePublishNotAllowed, "peer may not publish")
	// ErrNotOwner: in a cluster, the room is not hosted here.
	ErrNotOwner = wire.NewError(wire.CodeWrongServer, "this server does not host the room")
	// ErrFenced: in a cluster, this server's lease on its rooms lapsed (it
	// is cut off from both the broker and the API): the API may be moving
	// them, so the client asks it again.
	ErrFenced = wire.NewError(wire.CodeWrongServer, "this server is cut off from the cluster and admits no joins; ask the API's join endpoint again")
	// ErrNotFound answers admin look-ups of unknown rooms and peers.
	ErrNotFound = wire.NewError(wire.CodeNotFound, "not found")
)

// notFoundError names what was not found; it is ErrNotFound.
type notFoundError struct{ what string }

func (e notFoundError) Error() string        { return e.what + " not found" }
func (e notFoundError) Is(target error) bool { return target == ErrNotFound }

// ErrorCode implements wire.Coder.
func (e notFoundError) ErrorCode() wire.Code { return wire.CodeNotFound }
