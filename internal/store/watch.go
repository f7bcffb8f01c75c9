package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// WatchState is the durable state of `saslguard watch`: the followed
// files' cursors and the engine state built from the lines before them,
// always saved and loaded together.
type WatchState struct {
	// Cursors is the JSON of the follower's []follow.Cursor.
	Cursors []byte
	// Snapshot is the engine's state (watch.Engine.Save).
	Snapshot []byte
	// Saved is when it was saved (the store's clock).
	Saved time.Time
}

// SaveWatchState replaces the saved watch state with cursors (JSON) and
// snapshot, in one statement: a reader sees the old pair or the new pair,
// never a mix, also after a crash.
func (s *Store) SaveWatchState(ctx context.Context, cursors, snapshot []byte) error {
	if !json.Valid(cursors) {
		return errors.New("save watch state: cursors are not JSON")
	}
	if snapshot == nil {
		snapshot = []byte{}
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO watch_state (id, cursors, snapshot, saved_at) VALUES (1, ?, ?, ?)
		 ON CONFLICT(id) DO UPDATE SET cursors = excluded.cursors, snapshot = excluded.snapshot,
		 saved_at = excluded.saved_at`,
		string(cursors), snapshot, toUnix(s.Now()))
	if err != nil {
		return fmt.Errorf("save watch state: %w", err)
	}
	return nil
}

// LoadWatchState returns the saved watch state, or ErrNotFound when none
// was saved.
func (s *Store) LoadWatchState(ctx context.Context) (WatchState, error) {
	var (
		ws      WatchState
		cursors string
		at      int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT cursors, snapshot, saved_at FROM watch_state WHERE id = 1`).
		Scan(&cursors, &ws.Snapshot, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return WatchState{}, fmt.Errorf("load watch state: %w", ErrNotFound)
	}
	if err != nil {
		return WatchState{}, fmt.Errorf("load watch state: %w", err)
	}
	ws.Cursors, ws.Saved = []byte(cursors), fromUnix(at)
	return ws, nil
}

// ClearWatchState forgets the saved watch state (the next daemon starts
// afresh). Clearing when nothing is saved is not an error.
func (s *Store) ClearWatchState(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM watch_state`); err != nil {
		return fmt.Errorf("clear watch state: %w", err)
	}
	return nil
}
