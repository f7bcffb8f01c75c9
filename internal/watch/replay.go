package watch

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/saslguard/saslguard/internal/envelope"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/scan"
)

// Replay feeds the engine every line of set, in the order a daemon
// following the files as they were written would have read them, and
// returns when the set is read (watch --once).
//
// The set's groups (logsrc.Set.Groups: a rotated set; dovecot.log beside
// mail.log; another server's log) are read side by side and their lines
// merged by the time of their envelope, as scan merges them: each group
// keeps its own order, the earliest head line goes first, and a tie goes to
// the group read first. A line without a time that parses (no envelope, a
// bad stamp, an empty line) goes right after the line before it in its
// group. Each group holds one chunk of lookahead, so memory does not grow
// with the files.
//
// The year of classic syslog stamps is inferred over the whole set as scan
// does (year: that of the newest line; 0 takes the newest file's
// modification time). Files that end without a newline have their last
// line read all the same.
func (e *Engine) Replay(ctx context.Context, set *logsrc.Set, year int) error {
	years, _ := scan.InferYears(set, year, e.cfg.Loc)
	for i, f := range set.Files() {
		e.SetYear(f.Name, years[i].Year)
		e.file(f.Name).end = years[i].End
	}
	groups := set.Groups()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cur := make([]cursor, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for g, gs := range groups {
		ch := make(chan *logsrc.Chunk, 1)
		cur[g] = cursor{ch: ch, timed: len(groups) > 1}
		cur[g].env.Loc = e.cfg.Loc
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ch)
			errs[g] = gs.Read(ctx, func(c *logsrc.Chunk) error {
				select {
				case ch <- c:
					return nil
				case <-ctx.Done():
					c.Release()
					return ctx.Err()
				}
			})
		}()
	}
	defer func() {
		cancel()
		for g := range cur {
			cur[g].release()
		}
		wg.Wait()
	}()

	for g := range cur {
		e.head(&cur[g])
	}
	for {
		best := -1
		for g := range cur {
			q := &cur[g]
			if q.line != nil && (best < 0 || q.t.Before(cur[best].t)) {
				best = g
			}
		}
		if best < 0 {
			break
		}
		q := &cur[best]
		e.Line(q.chunk.File.Name, q.line)
		q.line = nil
		e.head(q)
	}
	if ctx.Err() == nil {
		// the log has ended: a message still waiting for its qmgr line
		// counts now if its host's log shows none (an excerpt), as at
		// the end of a scan
		e.corr.Settle()
	}
	// every group's channel is closed: its Read has returned
	e.readErrs = nil
	for _, fe := range logsrc.SumStats(groups...).Errors {
		e.readErrs = append(e.readErrs, fe.Error())
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return ctx.Err()
}

// ReadErrors returns the read errors of the last Replay's damaged files
// (the rest of each was read).
func (e *Engine) ReadErrors() []string { return e.readErrs }

// cursor is the reading position in one group of a Replay.
type cursor struct {
	ch    <-chan *logsrc.Chunk
	chunk *logsrc.Chunk // the chunk line and rest are in
	rest  []byte        // the chunk's lines after line
	line  []byte        // the head line (without its newline), nil if none
	t     time.Time     // the head line's time
	timed bool          // the lines' times are needed (more than one group)
	year  int           // the chunk's file's year (Engine.SetYear)
	env   envelope.Parser
	envl  envelope.Envelope
	fx    logline.YearFixer
	ev    event.Event // the fixer works on events
}

// head makes the next line of q's group with a time its head line, feeding
// the engine the lines without one on the way. At the group's end q.line
// is nil.
func (e *Engine) head(q *cursor) {
	for {
		for len(q.rest) == 0 {
			if q.chunk != nil {
				q.chunk.Release()
				q.chunk = nil
			}
			c, ok := <-q.ch
			if !ok {
				return
			}
			q.chunk, q.rest = c, c.Data
			fs := e.file(c.File.Name)
			q.fx.File(c.Index, fs.end, e.cfg.Loc)
			q.year = fs.year
		}
		// a chunk holds whole lines; the last line of a file may lack
		// its newline
		line := q.rest
		if n := bytes.IndexByte(q.rest, '\n'); n >= 0 {
			line, q.rest = q.rest[:n], q.rest[n+1:]
		} else {
			q.rest = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if !q.timed {
			q.line = line
			return
		}
		if t, ok := e.lineTime(q, line); ok {
			q.line, q.t = line, t
			return
		}
		e.Line(q.chunk.File.Name, line)
	}
}

// lineTime reads the time of line's envelope. The year of a classic
// syslog stamp is the file's, moved on where the file crosses into a new
// year as the engine moves it (the engine's fixer sees only the events it
// uses; this one every stamped line).
func (e *Engine) lineTime(q *cursor, line []byte) (time.Time, bool) {
	if len(line) == 0 {
		return time.Time{}, false
	}
	q.env.Year = e.yearOf(q.year)
	if err := q.env.ParseInto(unsafe.String(&line[0], len(line)), &q.envl); err != nil {
		return time.Time{}, false
	}
	t, guessed := q.envl.Time, !q.envl.YearKnown
	q.envl = envelope.Envelope{} // drop the pointers into the line
	if t.IsZero() {
		return time.Time{}, false
	}
	if guessed {
		q.ev.Time = t
		q.fx.Fix(&q.ev)
		t = q.ev.Time
	}
	return t, true
}

// release gives back the chunks q holds and those still on their way.
func (q *cursor) release() {
	if q.chunk != nil {
		q.chunk.Release()
		q.chunk = nil
	}
	q.line, q.rest = nil, nil
	for c := range q.ch {
		c.Release()
	}
}
