package detect

import (
	"fmt"
	"testing"
	"time"
)

// TestTimesRoundTrip: times come back equal, in the same kind of zone.
func TestTimesRoundTrip(t *testing.T) {
	base := time.Date(2026, 3, 1, 5, 39, 22, 548478000, time.UTC)
	in := []time.Time{
		{}, base, base.Truncate(time.Second), base.In(time.Local),
		base.In(time.FixedZone("CET", 3600)), base.In(time.FixedZone("", -5*3600-30*60)),
		time.Unix(0, 0).UTC(), base.AddDate(300, 0, 0),
	}
	for n := range len(in) + 1 {
		var ts Times
		for _, x := range in[:n] {
			ts.Append(x)
		}
		if err := ts.Check(); err != nil || ts.Len() != n {
			t.Fatalf("%d: %v, len %d", n, err, ts.Len())
		}
		for i, want := range in[:n] {
			got := ts.At(i)
			_, wo := want.Zone()
			_, gotOff := got.Zone()
			if !got.Equal(want) || got.IsZero() != want.IsZero() || wo != gotOff ||
				(want.Location() == time.UTC) != (got.Location() == time.UTC) ||
				(want.Location() == time.Local) != (got.Location() == time.Local) {
				t.Errorf("%d/%d: %v, want %v", n, i, got, want)
			}
		}
	}
	bad := Times{Sec: []int64{1, 2}, Nsec: []int32{1}}
	if bad.Check() == nil {
		t.Error("columns of different lengths accepted")
	}
}

// TestStateDataRoundTrip: a state rebuilt from its data goes on exactly as
// the original, on the same observations.
func TestStateDataRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// foreign senders repeat; own-domain addresses change every 50
	// messages (unfamiliar once the login has a window of history)
	sender := func(i int, dom string) string {
		if dom == "corp.example" {
			return fmt.Sprintf("u%d@corp.example", i/50)
		}
		return fmt.Sprintf("s%d@%s", i%3, dom)
	}
	feed := func(s *State, from, to int) []bool {
		var out []bool
		for i := from; i < to; i++ {
			tm := t0.Add(time.Duration(i) * 7 * time.Minute)
			if i%13 == 0 {
				s.Failure(&cfg, tm, fmt.Sprintf("203.0.113.%d", i%7))
			}
			if i%17 == 0 {
				out = append(out, s.Rejection(&cfg, tm))
			}
			if i%19 == 0 {
				out = append(out, s.Bounce(&cfg, tm))
			}
			dom, foreign := "corp.example", false
			if i > 600 {
				dom, foreign = fmt.Sprintf("spam%d.example", i%11), true
			}
			out = append(out, s.Message(&cfg, Message{Time: tm, IP: fmt.Sprintf("198.51.100.%d", i/100), Domain: dom, Foreign: foreign, Rcpts: 1 + i%5,
				Sender: sender(i, dom)}))
		}
		return out
	}
	for _, split := range []int{0, 1, 300, 601, 650, 700} {
		a, b := NewState(), NewState()
		feed(a, 0, split)
		feed(b, 0, split)
		d := b.Data()
		c, err := d.State()
		if err != nil {
			t.Fatal(err)
		}
		// the sums kept beside the window are rebuilt from it
		at := t0.Add(time.Duration(split) * 7 * time.Minute)
		if ca, cc := a.counts(&cfg, at), c.counts(&cfg, at); ca != cc || split == 601 && ca.unf == 0 {
			t.Errorf("split %d: counts %+v after the round trip, want %+v", split, cc, ca)
		}
		wa, wc := feed(a, split, 800), feed(c, split, 800)
		if fmt.Sprint(wa) != fmt.Sprint(wc) {
			t.Errorf("split %d: changes %v, want %v", split, wc, wa)
		}
		if fmt.Sprintf("%+v", a.Data()) != fmt.Sprintf("%+v", c.Data()) {
			t.Errorf("split %d: states differ", split)
		}
		if a.Verdict() != Compromised {
			t.Errorf("the test's takeover was not detected: %v", a.Verdict())
		}
	}
	for name, d := range map[string]StateData{
		"window head": {HourHead: 2},
		"hours":       {Hours: make([]HourSlot, 3)},
		"verdict":     {Verdict: 7},
		"columns":     {WinT: Times{Sec: []int64{1}}},
		"domain":      {WinT: Times{Sec: []int64{1}}, WinDomain: []uint32{5}, WinFlags: []uint8{0}},
		"maps":        {Domains: []KeyCount{{"x", 1}}},
	} {
		if _, err := d.State(); err == nil {
			t.Errorf("%s: damaged state accepted", name)
		}
	}
}
