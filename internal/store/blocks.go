package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Block is one entry of the blocked logins registry.
type Block struct {
	Login string
	// Source names who blocked: "policy", "respond", "watch", "manual".
	Source string
	Reason string
	// IncidentID is the incident the block belongs to, 0 for none.
	IncidentID int64
	Created    time.Time
}

// Block records login as blocked. It reports whether the login was newly
// blocked; blocking an already blocked login keeps the first record.
func (s *Store) Block(ctx context.Context, login, source, reason string, incidentID int64) (bool, error) {
	key, err := NormalizeLogin(login)
	if err != nil {
		return false, fmt.Errorf("block login: %w", err)
	}
	var inc any
	if incidentID != 0 {
		inc = incidentID
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO blocked_logins (login, source, reason, incident_id, created_at)
		 VALUES (?, ?, ?, ?, ?) ON CONFLICT(login) DO NOTHING`,
		key, source, reason, inc, toUnix(s.Now()))
	if err != nil {
		return false, fmt.Errorf("block login: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("block login: %w", err)
	}
	return n == 1, nil
}

// Unblock lifts a block. It returns ErrNotFound if the login was not blocked.
func (s *Store) Unblock(ctx context.Context, login string) error {
	key, err := NormalizeLogin(login)
	if err != nil {
		return fmt.Errorf("unblock login: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM blocked_logins WHERE login = ?`, key)
	if err != nil {
		return fmt.Errorf("unblock login: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("unblock login: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("unblock login: %w", ErrNotFound)
	}
	return nil
}

// IsBlocked returns the block on login, if there is one.
func (s *Store) IsBlocked(ctx context.Context, login string) (Block, bool, error) {
	key, err := NormalizeLogin(login)
	if err != nil {
		return Block{}, false, fmt.Errorf("check block: %w", err)
	}
	row := s.db.QueryRowContext(ctx,
		`SELECT login, source, reason, incident_id, created_at FROM blocked_logins WHERE login = ?`, key)
	b, err := scanBlock(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Block{}, false, nil
	}
	if err != nil {
		return Block{}, false, fmt.Errorf("check block: %w", err)
	}
	return b, true, nil
}

// ListBlocked returns every blocked login, oldest block first.
func (s *Store) ListBlocked(ctx context.Context) ([]Block, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT login, source, reason, incident_id, created_at FROM blocked_logins ORDER BY created_at, login`)
	if err != nil {
		return nil, fmt.Errorf("list blocked logins: %w", err)
	}
	defer rows.Close()
	var out []Block
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return nil, fmt.Errorf("list blocked logins: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list blocked logins: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(...any) error }

func scanBlock(r scanner) (Block, error) {
	var b Block
	var inc sql.NullInt64
	var created int64
	if err := r.Scan(&b.Login, &b.Source, &b.Reason, &inc, &created); err != nil {
		return Block{}, err
	}
	b.IncidentID = inc.Int64
	b.Created = fromUnix(created)
	return b, nil
}
