package logline

import (
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

// YearFixer corrects the year of classic syslog stamps within a file read
// in order: a stamp more than half a year before the newest seen means the
// log crossed into a new year. The repeated hour at the end of daylight
// saving time goes back only an hour and is left alone.
type YearFixer struct {
	index  int
	init   bool
	last   time.Time
	offset int
}

// File starts the file numbered i (state is kept while i stays the same).
func (f *YearFixer) File(i int) {
	if !f.init || i != f.index {
		*f = YearFixer{index: i, init: true}
	}
}

const halfYear = 183 * 24 * time.Hour

// Fix corrects ev.Time, whose year the parser assumed (ev.YearGuessed).
func (f *YearFixer) Fix(ev *event.Event) {
	t := ev.Time
	if f.offset > 0 {
		t = t.AddDate(f.offset, 0, 0)
	}
	if !f.last.IsZero() && t.Before(f.last.Add(-halfYear)) {
		f.offset++
		t = t.AddDate(1, 0, 0)
	}
	if t.After(f.last) {
		f.last = t
	}
	ev.Time = t
}

// YearFixerState is a YearFixer's state, for saving it (watch's checkpoints).
type YearFixerState struct {
	Index  int
	Init   bool
	Last   time.Time
	Offset int
}

// State returns the fixer's state.
func (f *YearFixer) State() YearFixerState {
	return YearFixerState{f.index, f.init, f.last, f.offset}
}

// SetState restores a state returned by State.
func (f *YearFixer) SetState(s YearFixerState) {
	*f = YearFixer{index: s.Index, init: s.Init, last: s.Last, offset: s.Offset}
}
