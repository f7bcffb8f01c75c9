package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Incident statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Incident is one compromised-login case.
type Incident struct {
	ID      int64
	Login   string
	Source  string // "policy", "respond", "watch", ...
	Summary string
	Status  string
	Created time.Time
	Updated time.Time
}

// Action is one step taken on an incident (a block, a hold, a release...).
type Action struct {
	ID         int64
	IncidentID int64
	At         time.Time
	// Command says what was run or done, as an argument vector joined for
	// display or a short verb ("policy block").
	Command string
	Result  string
	// OK and Failed count the items the action succeeded and failed on
	// (messages held, maps written...).
	OK     int
	Failed int
}

// CreateIncident records a new open incident and returns its id. Created and
// Updated default to the store's clock.
func (s *Store) CreateIncident(ctx context.Context, inc Incident) (int64, error) {
	key, err := NormalizeLogin(inc.Login)
	if err != nil {
		return 0, fmt.Errorf("create incident: %w", err)
	}
	if inc.Status == "" {
		inc.Status = StatusOpen
	}
	now := s.Now()
	if inc.Created.IsZero() {
		inc.Created = now
	}
	if inc.Updated.IsZero() {
		inc.Updated = inc.Created
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO incidents (login, source, summary, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		key, inc.Source, inc.Summary, inc.Status, toUnix(inc.Created), toUnix(inc.Updated))
	if err != nil {
		return 0, fmt.Errorf("create incident: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("create incident: %w", err)
	}
	return id, nil
}

// AddAction records an action on an incident and touches its update time.
func (s *Store) AddAction(ctx context.Context, a Action) (int64, error) {
	if a.At.IsZero() {
		a.At = s.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("add action: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE incidents SET updated_at = max(updated_at, ?) WHERE id = ?`, toUnix(a.At), a.IncidentID)
	if err != nil {
		return 0, fmt.Errorf("add action: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, fmt.Errorf("add action to incident %d: %w", a.IncidentID, ErrNotFound)
	}
	res, err = tx.ExecContext(ctx,
		`INSERT INTO incident_actions (incident_id, at, command, result, ok_count, fail_count) VALUES (?, ?, ?, ?, ?, ?)`,
		a.IncidentID, toUnix(a.At), a.Command, a.Result, a.OK, a.Failed)
	if err != nil {
		return 0, fmt.Errorf("add action: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add action: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("add action: %w", err)
	}
	return id, nil
}

// SetIncidentStatus changes an incident's status (open, closed).
func (s *Store) SetIncidentStatus(ctx context.Context, id int64, status string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE incidents SET status = ?, updated_at = ? WHERE id = ?`, status, toUnix(s.Now()), id)
	if err != nil {
		return fmt.Errorf("set incident status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set incident %d status: %w", id, ErrNotFound)
	}
	return nil
}

// GetIncident returns an incident and its actions in time order.
func (s *Store) GetIncident(ctx context.Context, id int64) (Incident, []Action, error) {
	row := s.db.QueryRowContext(ctx,
		`SELECT id, login, source, summary, status, created_at, updated_at FROM incidents WHERE id = ?`, id)
	inc, err := scanIncident(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, nil, fmt.Errorf("get incident %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Incident{}, nil, fmt.Errorf("get incident %d: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, incident_id, at, command, result, ok_count, fail_count FROM incident_actions WHERE incident_id = ? ORDER BY at, id`, id)
	if err != nil {
		return Incident{}, nil, fmt.Errorf("get incident %d actions: %w", id, err)
	}
	defer rows.Close()
	var acts []Action
	for rows.Next() {
		var a Action
		var at int64
		if err := rows.Scan(&a.ID, &a.IncidentID, &at, &a.Command, &a.Result, &a.OK, &a.Failed); err != nil {
			return Incident{}, nil, fmt.Errorf("get incident %d actions: %w", id, err)
		}
		a.At = fromUnix(at)
		acts = append(acts, a)
	}
	if err := rows.Err(); err != nil {
		return Incident{}, nil, fmt.Errorf("get incident %d actions: %w", id, err)
	}
	return inc, acts, nil
}

// IncidentFilter selects incidents for ListIncidents. Zero values match all.
type IncidentFilter struct {
	Login  string
	Status string
	Limit  int // 0 means 1000
}

// ListIncidents returns incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error) {
	q := `SELECT id, login, source, summary, status, created_at, updated_at FROM incidents WHERE 1=1`
	var args []any
	if f.Login != "" {
		key, err := NormalizeLogin(f.Login)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		q += ` AND login = ?`
		args = append(args, key)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

func scanIncident(r scanner) (Incident, error) {
	var inc Incident
	var c, u int64
	if err := r.Scan(&inc.ID, &inc.Login, &inc.Source, &inc.Summary, &inc.Status, &c, &u); err != nil {
		return Incident{}, err
	}
	inc.Created = fromUnix(c)
	inc.Updated = fromUnix(u)
	return inc, nil
}
