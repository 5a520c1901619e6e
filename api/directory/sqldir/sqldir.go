// Package sqldir is the API's directory in SQL: embedded SQLite (pure Go,
// no cgo) in data_dir by default, or PostgreSQL so that several API replicas
// share one directory. The schema is created on open by versioned
// migrations; every change of a room's home is one transaction. Only the
// API's command imports it (and with it the two database drivers).
package sqldir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/cluster"
)

// Directory is room → server in a SQL database (a directory.Directory).
type Directory struct {
	db       *sql.DB
	postgres bool
}

// Open opens (and migrates) the directory: a postgres:// URL, or else the
// SQLite file voicectl-api.db in dataDir.
func Open(ctx context.Context, databaseURL, dataDir string) (*Directory, error) {
	d := &Directory{}
	var err error
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		d.postgres = true
		d.db, err = sql.Open("pgx", databaseURL)
	case databaseURL == "":
		path := filepath.Join(dataDir, "voicectl-api.db")
		// WAL and a busy timeout: readers do not block the writer, and a
		// writer waits for another instead of failing.
		d.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
		if err == nil {
			d.db.SetMaxOpenConns(1)
		}
	default:
		return nil, fmt.Errorf("database URL: want postgres://… (or none for SQLite in data_dir)")
	}
	if err != nil {
		return nil, err
	}
	if err := d.db.PingContext(ctx); err != nil {
		_ = d.db.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := d.migrate(ctx); err != nil {
		_ = d.db.Close()
		return nil, fmt.Errorf("database migration: %w", err)
	}
	return d, nil
}

// Close closes the database.
func (d *Directory) Close() error { return d.db.Close() }

// Kind is "postgres" or "sqlite".
func (d *Directory) Kind() string {
	if d.postgres {
		return "postgres"
	}
	return "sqlite"
}

// q rewrites ? placeholders for PostgreSQL ($1, $2, …).
func (d *Directory) q(query string) string {
	if !d.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// migrations are applied in order, each once, each in its own transaction.
var migrations = []string{
	`CREATE TABLE rooms (
		name       TEXT PRIMARY KEY,
		server     TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL,
		moves      INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX rooms_by_server ON rooms (server)`,
}

func (d *Directory) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	for i, m := range migrations {
		version := i + 1
		err := d.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("version %d: %w", version, err)
		}
	}
	return nil
}

// SchemaVersion is the newest migration applied.
func (d *Directory) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// Check answers nil while the database answers a query.
func (d *Directory) Check(ctx context.Context) error {
	_, err := d.SchemaVersion(ctx)
	return err
}

func (d *Directory) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

const cols = `name, server, created_at, updated_at, moves`

func scanRoom(s interface{ Scan(...any) error }) (directory.Room, error) {
	var r directory.Room
	var created, updated int64
	var server string
	if err := s.Scan(&r.Name, &server, &created, &updated, &r.Moves); err != nil {
		return directory.Room{}, err
	}
	r.Server, r.CreatedAt, r.UpdatedAt = cluster.ServerID(server), time.UnixMilli(created), time.UnixMilli(updated)
	return r, nil
}

// Get returns a room's entry, or directory.ErrNotFound.
func (d *Directory) Get(ctx context.Context, name string) (directory.Room, error) {
	r, err := scanRoom(d.db.QueryRowContext(ctx, d.q(`SELECT `+cols+` FROM rooms WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Room{}, directory.ErrNotFound
	}
	return r, err
}

// Create records a new room on server; if the room exists already, it
// returns the existing entry and false.
func (d *Directory) Create(ctx context.Context, name string, server cluster.ServerID) (directory.Room, bool, error) {
	now := time.Now().UnixMilli()
	res, err := d.db.ExecContext(ctx, d.q(`INSERT INTO rooms (`+cols+`) VALUES (?, ?, ?, ?, 0) ON CONFLICT (name) DO NOTHING`), name, string(server), now, now)
	if err != nil {
		return directory.Room{}, false, err
	}
	n, _ := res.RowsAffected()
	r, err := d.Get(ctx, name)
	return r, n == 1, err
}

// Move re-homes a room from one server to another, only if it is still on
// from (two API replicas failing over the same room: one wins). It reports
// whether it moved.
func (d *Directory) Move(ctx context.Context, name string, from, to cluster.ServerID) (bool, error) {
	var moved bool
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE rooms SET server = ?, updated_at = ?, moves = moves + 1 WHERE name = ? AND server = ?`),
			string(to), time.Now().UnixMilli(), name, string(from))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		moved = n == 1
		return err
	})
	return moved, err
}

// Delete removes a room; directory.ErrNotFound if there was none.
func (d *Directory) Delete(ctx context.Context, name string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM rooms WHERE name = ?`), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return directory.ErrNotFound
	}
	return nil
}

// List returns every room, by name; on a server only, when server is set.
func (d *Directory) List(ctx context.Context, server cluster.ServerID) ([]directory.Room, error) {
	query, args := `SELECT `+cols+` FROM rooms ORDER BY name`, []any{}
	if server != "" {
		query, args = `SELECT `+cols+` FROM rooms WHERE server = ? ORDER BY name`, []any{string(server)}
	}
	rows, err := d.db.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []directory.Room{}
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

var _ directory.Directory = (*Directory)(nil)
