package service

import (
	"errors"
	"fmt"
)

// Errors of the orchestration. The HTTP layer maps each to a status and a
// stable code in one place (httperrors.go); anything else is internal.
var (
	// ErrNoCapacity: no server took a new room (or a re-homed one) within
	// cluster.create_timeout.
	ErrNoCapacity = errors.New("no server has capacity for a new room")
	// ErrNoSpare: a move's new home lacks the spare capacity the room needs
	// (or no live server has it).
	ErrNoSpare = errors.New("no spare capacity for the room")
	// ErrServerUnknown: no such server in the registry.
	ErrServerUnknown = errors.New("server not in the registry")
	// ErrServerDead: the server is silent past cluster.dead_after.
	ErrServerDead = errors.New("server is dead")
	// ErrServerDraining: the server drains and takes nothing new.
	ErrServerDraining = errors.New("server is draining")
	// ErrAlreadyThere: a move to the room's own server.
	ErrAlreadyThere = errors.New("room is on that server already")
	// ErrMoveConflict: the room moved while this move was under way.
	ErrMoveConflict = errors.New("room moved meanwhile")
	// ErrBusUnavailable: the API is off the message broker, so what needs it
	// (placing, re-homing or moving a room, a drain, a room's peers) is
	// refused at once rather than waited for until a timeout.
	ErrBusUnavailable = errors.New("the API is off the message broker")
	// ErrNoAnswer: a server did not answer a command the API relays.
	ErrNoAnswer = errors.New("server did not answer")
)

// refusal is an orchestration error in the words the caller sees; errors.Is
// matches its kind, one of the sentinels above.
type refusal struct {
	kind error
	msg  string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }

// refuse is an error of kind, said as format.
func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}
