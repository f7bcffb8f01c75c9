package logline

import (
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

// YearFixer corrects the year of classic syslog stamps within a file read
// in order. A stamp that goes back in time means the log crossed into a new
// year when the file's end is known and the stamp a year later is still
// before it; without a bound, when it goes back more than half a year. A
// stamp past the bound is a year earlier: it undoes a wrap that a stray
// stamp made (a clock reset at boot). The repeated hour at the end of daylight saving
// time goes back only an hour and is left alone.
//
// A wall-clock time in the hour that repeats at the end of daylight saving
// time has two instants; the fixer takes the earlier while the log has not
// yet passed it, so that both passes keep their order.
type YearFixer struct {
	index  int
	init   bool
	last   time.Time
	offset int
	end    time.Time // a bound on the file's last stamp; zero when unknown

	loc *time.Location // the zone of the stamps
	rep Repeats
}

// File starts the file numbered i (state is kept while i stays the same),
// whose stamps end by end (zero when that is not known) and are in zone loc.
func (f *YearFixer) File(i int, end time.Time, loc *time.Location) {
	if !f.init || i != f.index {
		*f = YearFixer{index: i, init: true, end: end}
	}
	f.loc = loc
}

// Repeats finds the stamps of a zone's repeated hour (the end of daylight
// saving time): those whose wall clock two instants share. It looks once a
// half hour of Unix time (zone changes fall on a whole or half hour).
type Repeats struct {
	loc   *time.Location
	slot  int64 // the half hour delta was found for
	ok    bool  // slot is set
	delta time.Duration
}

// Other returns how far the other instant with t's wall clock in loc is
// from t: 0 when t's hour does not repeat.
func (r *Repeats) Other(t time.Time, loc *time.Location) time.Duration {
	if loc == nil || loc == time.UTC {
		return 0
	}
	if h := t.Unix() / 1800; !r.ok || h != r.slot || loc != r.loc {
		r.loc, r.slot, r.ok, r.delta = loc, h, true, 0
		w := t.In(loc)
		for _, d := range [...]time.Duration{-time.Hour, time.Hour, -30 * time.Minute, 30 * time.Minute} {
			o := t.Add(d).In(loc)
			if o.Hour() == w.Hour() && o.Minute() == w.Minute() && o.YearDay() == w.YearDay() {
				r.delta = d
				break
			}
		}
	}
	return r.delta
}

// dstSlack: lines of a log may be this much out of order without making
// the fixer think the repeated hour's first pass is over.
const dstSlack = 10 * time.Minute

const (
	halfYear = 183 * 24 * time.Hour
	// endSlack: a file's lines may run a little past its bound (the next
	// file's first line, which copytruncate overlaps)
	endSlack = 24 * time.Hour
)

// Fix corrects ev.Time, whose year the parser assumed (ev.YearGuessed).
func (f *YearFixer) Fix(ev *event.Event) {
	t := ev.Time
	if f.offset > 0 {
		t = t.AddDate(f.offset, 0, 0)
	}
	if f.end.IsZero() {
		if !f.last.IsZero() && t.Before(f.last.Add(-halfYear)) {
			f.offset++
			t = t.AddDate(1, 0, 0)
		}
	} else {
		limit := f.end.Add(endSlack)
		switch {
		case t.After(limit):
			// past the file's end: a stray stamp made an earlier wrap
			// (undone, and the stray forgotten), or the file began a year
			// before the year it was given (a pipe, bounded by the clock)
			f.offset--
			t = t.AddDate(-1, 0, 0)
			f.last = t
		case !f.last.IsZero() && t.Before(f.last.Add(-endSlack)):
			if w := t.AddDate(1, 0, 0); !w.After(limit) {
				f.offset++
				t = w
			}
		}
	}
	if d := f.rep.Other(t, f.loc); d != 0 {
		o := t.Add(d)
		early, late := t, o
		if o.Before(t) {
			early, late = o, t
		}
		if f.last.IsZero() || !early.Before(f.last.Add(-dstSlack)) {
			t = early
		} else {
			t = late
		}
	}
	if t.After(f.last) {
		f.last = t
	}
	ev.Time = t
}

// Last returns the newest stamp the fixer has given out.
func (f *YearFixer) Last() time.Time { return f.last }

// YearFixerState is a YearFixer's state, for saving it (watch's checkpoints).
type YearFixerState struct {
	Index  int
	Init   bool
	Last   time.Time
	Offset int
	End    time.Time
}

// State returns the fixer's state.
func (f *YearFixer) State() YearFixerState {
	return YearFixerState{f.index, f.init, f.last, f.offset, f.end}
}

// SetState restores a state returned by State.
func (f *YearFixer) SetState(s YearFixerState) {
	*f = YearFixer{index: s.Index, init: s.Init, last: s.Last, offset: s.Offset, end: s.End}
}
