// Package store is saslguard's incident store: one SQLite database per host
// (<state-dir>/saslguard.db) shared by respond, watch and policy. It records
// incidents and the actions taken on them, the registry of blocked logins,
// and offers a file lock for operations that must not run twice at once.
//
// Every login, reason and command is bound as a query parameter: these are
// hostile strings and never become part of SQL text.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the database's name inside a state directory.
const FileName = "saslguard.db"

// MaxLoginLen bounds the logins the store accepts.
const MaxLoginLen = 1024

// ErrNotFound is returned when an incident or a block does not exist.
var ErrNotFound = errors.New("not found")

// Store is an open incident store. It is safe for concurrent use, also by
// several processes on the same file.
type Store struct {
	db   *sql.DB
	path string
	dir  string
	// memory is set for OpenMemory's store: it has no directory.
	memory bool
	// Now is the clock used for created/updated times; tests replace it.
	Now func() time.Time
}

// migrations are applied in order; schema_version holds how many ran.
// Append only: never edit a migration that has shipped.
var migrations = []string{
	`CREATE TABLE blocked_logins (
		login       TEXT PRIMARY KEY,
		source      TEXT NOT NULL,
		reason      TEXT NOT NULL,
		incident_id INTEGER,
		created_at  INTEGER NOT NULL
	);
	CREATE TABLE incidents (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		login      TEXT NOT NULL,
		source     TEXT NOT NULL,
		summary    TEXT NOT NULL,
		status     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE INDEX incidents_login ON incidents(login);
	CREATE TABLE incident_actions (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		incident_id INTEGER NOT NULL REFERENCES incidents(id),
		at          INTEGER NOT NULL,
		command     TEXT NOT NULL,
		result      TEXT NOT NULL,
		ok_count    INTEGER NOT NULL,
		fail_count  INTEGER NOT NULL
	);
	CREATE INDEX incident_actions_incident ON incident_actions(incident_id);`,
	// the durable state of saslguard watch: see watch.go
	`CREATE TABLE watch_state (
		id       INTEGER PRIMARY KEY CHECK (id = 1),
		cursors  TEXT NOT NULL,
		snapshot BLOB NOT NULL,
		saved_at INTEGER NOT NULL
	);`,
}

// ErrNoStore is returned by OpenExisting when the state directory or its
// database does not exist.
var ErrNoStore = errors.New("no incident store")

// Open opens (creating if needed) the SQLite database at path, in WAL mode
// with a busy timeout, and brings its schema up to date. A database it
// creates is readable by its owner only (0600): it names stolen logins and
// what was done about them.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// SQLite creates the file with 0644 (less the umask), and its -wal and
	// -shm files with the database's mode: create it empty with 0600 first.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return open(path, 4)
}

// OpenExisting opens the database at path only if it exists, creating
// nothing: read-only commands use it, so that a mistyped state directory is
// an error, not a new empty store.
func OpenExisting(path string) (*Store, error) {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: state directory %s does not exist (check --state-dir)", ErrNoStore, dir)
	}
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s does not exist in %s (check --state-dir; the store is created by the first command that records something)", ErrNoStore, FileName, dir)
	}
	return open(path, 4)
}

// OpenExistingDir is OpenExisting for a state directory.
func OpenExistingDir(stateDir string) (*Store, error) {
	return OpenExisting(filepath.Join(stateDir, FileName))
}

// OpenMemory returns an empty store that lives in memory and is gone when
// closed (a dry run where no store exists yet reads from it).
func OpenMemory() (*Store, error) {
	// one connection: each in-memory connection is a database of its own
	s, err := open(":memory:", 1)
	if err == nil {
		s.memory, s.dir = true, ""
	}
	return s, err
}

func open(path string, conns int) (*Store, error) {
	dir := filepath.Dir(path)
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	s := &Store{db: db, path: path, dir: dir, Now: time.Now}
	// A first open racing another process's first open can see SQLITE_BUSY
	// without the busy handler being consulted (the switch to WAL): retry.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = s.migrate(context.Background())
		if err == nil {
			return s, nil
		}
		if !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			db.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// OpenDir opens the store in a state directory.
func OpenDir(stateDir string) (*Store, error) {
	return Open(filepath.Join(stateDir, FileName))
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("init schema_version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read schema_version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this saslguard (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("update schema_version: %w", err)
	}
	return tx.Commit()
}

// SchemaVersion reports the number of migrations applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// NormalizeLogin returns the form logins are stored under: Postfix compares
// SASL logins case-insensitively, so the store does too.
func NormalizeLogin(login string) (string, error) {
	if login == "" {
		return "", errors.New("empty login")
	}
	if len(login) > MaxLoginLen {
		return "", fmt.Errorf("login longer than %d bytes", MaxLoginLen)
	}
	if strings.IndexByte(login, 0) >= 0 {
		return "", errors.New("login contains a NUL byte")
	}
	return strings.ToLower(login), nil
}

func toUnix(t time.Time) int64   { return t.UnixMicro() }
func fromUnix(v int64) time.Time { return time.UnixMicro(v).UTC() }
