// Package directorytest has an in-memory directory for unit tests of the
// API's orchestration, and the checks every directory passes (Conform), so
// that the in-memory one behaves as the SQL one the API runs on.
package directorytest

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/cluster"
)

// Memory is a directory.Directory in a map: what sqldir keeps in a table,
// without a database (nothing survives the process).
type Memory struct {
	down  atomic.Bool
	mu    sync.Mutex
	rooms map[string]directory.Room
}

// ErrDown answers every call while the directory is set down.
var ErrDown = errors.New("directory unreachable (set down by the test)")

// New returns an empty in-memory directory.
func New() *Memory { return &Memory{rooms: map[string]directory.Room{}} }

var _ directory.Directory = (*Memory)(nil)

// SetDown makes every call fail with ErrDown (a database gone), or answer again.
func (m *Memory) SetDown(down bool) { m.down.Store(down) }

// Kind is "memory".
func (m *Memory) Kind() string { return "memory" }

// Check answers ErrDown while set down.
func (m *Memory) Check(ctx context.Context) error { return m.usable(ctx) }

func (m *Memory) usable(ctx context.Context) error {
	if m.down.Load() {
		return ErrDown
	}
	return ctx.Err()
}

// now is at the SQL store's resolution (milliseconds), so entries compare
// alike whichever store made them.
func now() time.Time { return time.UnixMilli(time.Now().UnixMilli()) }

// Get returns a room's entry, or directory.ErrNotFound.
func (m *Memory) Get(ctx context.Context, name string) (directory.Room, error) {
	if err := m.usable(ctx); err != nil {
		return directory.Room{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[name]
	if !ok {
		return directory.Room{}, directory.ErrNotFound
	}
	return r, nil
}

// Create records a new room on server, or returns the existing entry and false.
func (m *Memory) Create(ctx context.Context, name string, server cluster.ServerID) (directory.Room, bool, error) {
	if err := m.usable(ctx); err != nil {
		return directory.Room{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.rooms[name]; ok {
		return r, false, nil
	}
	t := now()
	r := directory.Room{Name: name, Server: server, CreatedAt: t, UpdatedAt: t}
	m.rooms[name] = r
	return r, true, nil
}

// Move re-homes a room still on from, counting the move.
func (m *Memory) Move(ctx context.Context, name string, from, to cluster.ServerID) (bool, error) {
	if err := m.usable(ctx); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[name]
	if !ok || r.Server != from {
		return false, nil
	}
	r.Server, r.UpdatedAt, r.Moves = to, now(), r.Moves+1
	m.rooms[name] = r
	return true, nil
}

// Delete removes a room; directory.ErrNotFound if there was none.
func (m *Memory) Delete(ctx context.Context, name string) error {
	if err := m.usable(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rooms[name]; !ok {
		return directory.ErrNotFound
	}
	delete(m.rooms, name)
	return nil
}

// List returns every room by name; on a server only, when server is set.
func (m *Memory) List(ctx context.Context, server cluster.ServerID) ([]directory.Room, error) {
	if err := m.usable(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []directory.Room{}
	for _, r := range m.rooms {
		if server == "" || r.Server == server {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
