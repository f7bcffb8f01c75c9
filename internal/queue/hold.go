package queue

import (
	"context"
	"fmt"
)

// HoldReport is the outcome of HoldLogin.
type HoldReport struct {
	Selection Selection
	// Held are the login's messages now on hold, confirmed from their
	// queue files after the hold.
	Held []string
	// Released are ids that named another message by the time they were
	// held (a reused short id): they were released again.
	Released []string
	// Missing are selected ids that left the queue before the hold.
	Missing []string
}

// HoldLogin selects login's messages (see SelectLogin), holds them, reads
// the held queue files again (see Recheck) and releases any that turned out
// to be another message. Deleting is a separate, later step (DeleteHeld on
// Held), after the caller exported what it wants to keep.
func HoldLogin(ctx context.Context, m Manager, login string, links []Link) (HoldReport, error) {
	var rep HoldReport
	sel, err := SelectLogin(ctx, m, login, links)
	rep.Selection = sel
	if err != nil {
		return rep, err
	}
	if len(sel.Messages) == 0 {
		return rep, nil
	}
	res, err := m.Hold(ctx, sel.IDs())
	if err != nil {
		return rep, fmt.Errorf("hold messages of %q: %w", login, err)
	}
	rep.Missing = res.Missing
	confirmed, foreign, err := Recheck(ctx, m, login, sel)
	if err != nil {
		return rep, err
	}
	rep.Held = confirmed
	if len(foreign) > 0 {
		if _, err := m.Release(ctx, foreign); err != nil {
			return rep, fmt.Errorf("release messages that are not %q's: %w", login, err)
		}
		rep.Released = foreign
	}
	return rep, nil
}
