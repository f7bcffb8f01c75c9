package logline

import (
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

// YearFixer corrects the year of classic syslog stamps within a file read
// in order. A stamp that goes back in time means the log crossed into a new
// year when the file's end is known and the stamp a year later is still
// before it; without a bound, when it goes back more than half a year. A
// stamp a year past the bound undoes a wrap that a stray stamp made (a
// clock reset at boot). The repeated hour at the end of daylight saving
// time goes back only an hour and is left alone.
type YearFixer struct {
	index  int
	init   bool
	last   time.Time
	offset int
	end    time.Time // a bound on the file's last stamp; zero when unknown
}

// File starts the file numbered i (state is kept while i stays the same),
// whose stamps end by end (zero when that is not known).
func (f *YearFixer) File(i int, end time.Time) {
	if !f.init || i != f.index {
		*f = YearFixer{index: i, init: true, end: end}
	}
}

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
		case f.offset > 0 && t.After(limit):
			f.offset--
			t = t.AddDate(-1, 0, 0)
		case !f.last.IsZero() && t.Before(f.last.Add(-endSlack)):
			if w := t.AddDate(1, 0, 0); !w.After(limit) {
				f.offset++
				t = w
			}
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
