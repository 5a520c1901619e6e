// Package directory is the API's room → server map: an entry (Room) and the
// contract every store keeps (Directory). sqldir is the store `voicectl api`
// runs on (embedded SQLite, or PostgreSQL shared by API replicas);
// directorytest has an in-memory one for unit tests and the checks both pass.
package directory

import (
	"context"
	"errors"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
)

// ErrNotFound: no such room in the directory.
var ErrNotFound = errors.New("room not found")

// Room is a directory entry.
type Room struct {
	Name      string           `json:"room"`
	Server    cluster.ServerID `json:"server"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
	// Moves counts re-homes (failover, migration).
	Moves int `json:"moves"`
}

// Directory is room → server. Every change of a room's home is atomic:
// two API replicas creating or moving the same room at once agree on one
// outcome.
type Directory interface {
	// Get returns a room's entry, or ErrNotFound.
	Get(ctx context.Context, name string) (Room, error)
	// Create records a new room on server; if the room exists already, it
	// returns the existing entry and false.
	Create(ctx context.Context, name string, server cluster.ServerID) (Room, bool, error)
	// Move re-homes a room from one server to another, only if it is still
	// on from (two replicas failing over the same room: one wins), counting
	// the move. It reports whether it moved.
	Move(ctx context.Context, name string, from, to cluster.ServerID) (bool, error)
	// Delete removes a room; ErrNotFound if there was none.
	Delete(ctx context.Context, name string) error
	// List returns every room, by name; on a server only, when server is set.
	List(ctx context.Context, server cluster.ServerID) ([]Room, error)
	// Check answers nil while the store answers queries (the API's /readyz).
	Check(ctx context.Context) error
	// Kind names the store: "sqlite", "postgres", "memory".
	Kind() string
}
