package respond

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/store"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"alice@lab.test", "alice@lab.test"},
		{"", `""`},
		{"a b@x", `"a b@x"`},
		{"evil\n@x REJECT", `"evil\n@x REJECT"`},
		{`o"brien@x`, `"o\"brien@x"`},
		{"o'brien@x", `"o'brien@x"`},
		{"\x1b[31mred@x", `"\x1b[31mred@x"`},
		{"münchen@x", `"münchen@x"`},
		{"-rf@x", "-rf@x"},
	} {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/usr/sbin/postsuper", "/usr/sbin/postsuper"},
		{"-h", "-h"},
		{"$(reboot)@x", "'$(reboot)@x'"},
		{"o'brien@x", `'o'\''brien@x'`},
		{"a b", "'a b'"},
		{"evil\n", `"evil\n"`},
		{"", "''"},
	} {
		if got := shellQuote(c.in); got != c.want {
			t.Errorf("shellQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestJournalIDs checks that only ids of the recorded form come back from a
// result, whatever else the text holds (a result may quote a hostile error).
func TestJournalIDs(t *testing.T) {
	for _, c := range []struct {
		name   string
		result string
		want   []string
	}{
		{"queue ids", "held bounce 2 ids=8A1A2B830F,4PbC4x469Jz3tBr", []string{"8A1A2B830F", "4PbC4x469Jz3tBr"}},
		{"entry ids", "exported 1 (0 already) ids=8A1A2B830F-0123456789abcdef", []string{"8A1A2B830F-0123456789abcdef"}},
		{"none", "held all 0", nil},
		{"hostile", "failed: x ids=A;rm -rf /,B C,-h,ALL", []string{"ALL"}},
		{"last marker wins", "failed: login ids=EVIL ids=ABC", []string{"ABC"}},
		{"overlong", "x ids=" + strings.Repeat("A", 65), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := idsOf(store.Action{Result: c.result})
			if !slices.Equal(got, c.want) {
				t.Errorf("idsOf(%q) = %q, want %q", c.result, got, c.want)
			}
		})
	}
	// "ALL" is a well-formed token but never a queue id postfixq accepts:
	// postfixq.ValidQueueID guards every command line.
}

func TestJournalSteps(t *testing.T) {
	j := journal{actions: []store.Action{
		action(1, StepHold, "postsuper -h -", "held sasl_username 2", 2, 0, []string{"A1", "A2"}),
		action(1, StepHold, "postsuper -h -", "held bounce 1", 1, 0, []string{"B1"}),
		action(1, StepDisable, "disable", "not disabled: no", 0, 1, nil),
		action(1, StepHold, "postsuper -h -", "held bounce 1", 1, 0, []string{"B1"}),
		{IncidentID: 1, Command: "account enable", Result: "block lifted"},
	}}
	if got := j.ids(StepHold, "held"); !slices.Equal(got, []string{"A1", "A2", "B1"}) {
		t.Errorf("held ids = %v", got)
	}
	if got := j.ids(StepHold, "held bounce"); !slices.Equal(got, []string{"B1"}) {
		t.Errorf("bounce ids = %v", got)
	}
	if j.done(StepDisable, "disabled") || j.done(StepDisable, "not disabled") {
		t.Error("a failed action counts as done")
	}
	if stepOf(j.actions[4]) != "" {
		t.Error("another command's action read as a respond step")
	}
	links := linksFor(Target{}, j)
	if len(links) != 1 || links[0].QueueID != "B1" {
		t.Errorf("links from the journal = %+v", links)
	}
}

func TestPostfixDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"5d", 5 * 24 * time.Hour, false},
		{"5", 5 * 24 * time.Hour, false},
		{"3600s", time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"1h", time.Hour, false},
		{"", 0, true},
		{"5x", 0, true},
		{"-1d", 0, true},
		{"d", 0, true},
		{"99999999999d", 0, true},
	} {
		got, err := PostfixDuration(c.in, 'd')
		if (err != nil) != c.err || got != c.want {
			t.Errorf("PostfixDuration(%q) = %v, %v", c.in, got, err)
		}
	}
}

func FuzzIdsOf(f *testing.F) {
	f.Add("held bounce 2 ids=8A1A2B830F,4PbC4x469Jz3tBr")
	f.Add("x ids=A;B,,-h ids=")
	f.Fuzz(func(t *testing.T, result string) {
		for _, id := range idsOf(store.Action{Result: result}) {
			if !validRecordedID(id) || strings.ContainsAny(id, ", \n;") {
				t.Fatalf("idsOf(%q) returned %q", result, id)
			}
		}
	})
}

func FuzzPostfixDuration(f *testing.F) {
	for _, s := range []string{"5d", "3600", "2w", "", "9223372036854775807s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d, err := PostfixDuration(v, 'd'); err == nil && d < 0 {
			t.Fatalf("PostfixDuration(%q) = %v", v, d)
		}
	})
}
