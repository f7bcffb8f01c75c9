package gridgen

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGridCoversEveryAxisValue checks that each set holds every value of
// every takeover axis and every innocent style.
func TestGridCoversEveryAxisValue(t *testing.T) {
	for _, set := range []struct {
		name string
		sz   Sizes
	}{{"tuning", TuningSizes}, {"holdout", HoldoutSizes}, {"ci", CISizes}} {
		seen := map[string]bool{}
		for _, c := range Grid(set.name, set.sz) {
			if c.Kind == "innocent" {
				seen["innocent "+c.Style] = true
				continue
			}
			for _, k := range []string{
				fmt.Sprint("rate ", c.Rate), fmt.Sprint("duration ", c.Duration), fmt.Sprint("ips ", c.NewIPs),
				"senders " + c.Style, "start " + c.StartAt, fmt.Sprint("failed ", c.FailedFirst),
				fmt.Sprint("refusals ", c.Rejections), fmt.Sprint("imap ", c.IMAPProbe), fmt.Sprint("grep ", c.Grep),
			} {
				seen[k] = true
			}
		}
		var want []string
		for _, v := range Rates {
			want = append(want, fmt.Sprint("rate ", v))
		}
		for _, v := range Durations {
			want = append(want, fmt.Sprint("duration ", v))
		}
		for _, v := range NewIPCounts {
			want = append(want, fmt.Sprint("ips ", v))
		}
		for _, v := range SenderStyles {
			want = append(want, "senders "+v)
		}
		for _, v := range StartPositions {
			want = append(want, "start "+v)
		}
		for _, v := range InnocentStyles {
			want = append(want, "innocent "+v)
		}
		for _, b := range []bool{false, true} {
			want = append(want, fmt.Sprint("failed ", b), fmt.Sprint("refusals ", b), fmt.Sprint("imap ", b), fmt.Sprint("grep ", b))
		}
		for _, k := range want {
			if !seen[k] {
				t.Errorf("set %s: no case with %s", set.name, k)
			}
		}
	}
}

// TestSetsAreDisjoint checks that tuning and holdout share no seed and no
// id, and that a set is the same on every call.
func TestSetsAreDisjoint(t *testing.T) {
	tun, hol := Grid("tuning", TuningSizes), Grid("holdout", HoldoutSizes)
	seeds := map[uint64]string{}
	ids := map[string]bool{}
	for _, c := range tun {
		if !c.Grep {
			seeds[c.Seed] = c.ID
		}
		if ids[c.ID] {
			t.Errorf("id %s twice", c.ID)
		}
		ids[c.ID] = true
	}
	for _, c := range hol {
		if id, ok := seeds[c.Seed]; ok {
			t.Errorf("holdout %s has the seed of tuning %s", c.ID, id)
		}
		if ids[c.ID] {
			t.Errorf("id %s in both sets", c.ID)
		}
	}
	again := Grid("tuning", TuningSizes)
	for i := range tun {
		if tun[i] != again[i] {
			t.Fatalf("tuning case %d differs between calls: %+v, %+v", i, tun[i], again[i])
		}
	}
	if c, ok := Lookup(hol[7].ID); !ok || c != hol[7] {
		t.Errorf("Lookup(%s) = %+v, %v", hol[7].ID, c, ok)
	}
}

var stamp = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ (postfix(/[a-z]+)?/[a-z]+\[\d+\]|dovecot): `)
var stamp3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 \S+ (postfix(/[a-z]+)?/[a-z]+\[\d+\]|dovecot): `)

// TestGenerateTruth generates takeovers and innocents and checks the log
// against its truth: same bytes for the same case, lines in time order
// with a syslog envelope, the attacker's messages from the true start, a
// grep excerpt holding only sasl_username lines.
func TestGenerateTruth(t *testing.T) {
	cases := []Case{
		{ID: "x-loud", Seed: 1, Kind: "takeover", Style: "many-foreign", Rate: 200, Duration: time.Hour, NewIPs: 10, Rejections: true, StartAt: "mid-log", FailedFirst: true, IMAPProbe: true},
		{ID: "x-own", Seed: 2, Kind: "takeover", Style: "own", Rate: 5, Duration: time.Hour, NewIPs: 1, StartAt: "mid-log"},
		{ID: "x-start", Seed: 3, Kind: "takeover", Style: "invented", Rate: 1000, Duration: 72 * time.Hour, NewIPs: 3, StartAt: "log-start", MaxMessages: 300},
		{ID: "x-grep", Seed: 1, Kind: "takeover", Style: "many-foreign", Rate: 200, Duration: time.Hour, NewIPs: 10, Rejections: true, StartAt: "mid-log", FailedFirst: true, IMAPProbe: true, Grep: true},
		{ID: "x-dormant", Seed: 4, Kind: "takeover", Style: "colleagues", Rate: 20, Duration: 6 * time.Hour, NewIPs: 30, StartAt: "dormant"},
	}
	// every innocent style is generated and scanned by TestGrid
	for _, st := range []string{"relay", "bare-heavy", "traveller"} {
		cases = append(cases, Case{ID: "x-" + st, Seed: 5, Kind: "innocent", Style: st})
	}
	truths := map[string]*Truth{}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			var a, b bytes.Buffer
			tr, err := Generate(&a, c)
			if err != nil {
				t.Fatal(err)
			}
			if c.ID == "x-loud" || c.ID == "x-relay" {
				if _, err := Generate(&b, c); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatal("two runs of one case differ")
				}
			}
			truths[c.ID] = tr
			lines := strings.Split(strings.TrimSuffix(a.String(), "\n"), "\n")
			if len(lines) != tr.Lines || len(lines) < 50 {
				t.Fatalf("%d lines, truth says %d", len(lines), tr.Lines)
			}
			var prev time.Time
			logins := 0
			for _, l := range lines {
				var ts time.Time
				if stamp.MatchString(l) {
					ts, err = time.Parse(time.Stamp, l[:15])
					ts = ts.AddDate(tr.LogStart.Year(), 0, 0)
				} else if stamp3339.MatchString(l) {
					ts, err = time.Parse(time.RFC3339Nano, l[:32])
				} else {
					t.Fatalf("no syslog envelope: %q", l)
				}
				if err != nil {
					t.Fatal(err)
				}
				if ts.Before(prev.Truncate(time.Second)) {
					t.Fatalf("out of order: %q after %v", l, prev)
				}
				prev = ts
				if c.Grep && !strings.Contains(l, "sasl_username=") {
					t.Fatalf("grep excerpt holds %q", l)
				}
				if strings.Contains(l, "sasl_username="+tr.Login) && !strings.Contains(l, "authentication failed") && tr.Label == "takeover" && !ts.Before(tr.Start.Truncate(time.Second)) {
					logins++
				}
			}
			if tr.Label != "takeover" {
				if tr.Start != (time.Time{}) || tr.Class != "" {
					t.Errorf("innocent with takeover truth: %+v", tr)
				}
				return
			}
			// every attacker message is a client= line at or after the start
			if logins < tr.Accepted {
				t.Errorf("%d logins of %s from the start, truth says %d attacker messages", logins, tr.Login, tr.Accepted)
			}
			if tr.Start.Before(tr.LogStart) || !tr.End.Before(tr.LogEnd) {
				t.Errorf("takeover %v..%v outside the log %v..%v", tr.Start, tr.End, tr.LogStart, tr.LogEnd)
			}
		})
	}
	check := func(id, class string, minAccepted int) {
		tr := truths[id]
		if tr == nil {
			return
		}
		if tr.Class != class || tr.Accepted < minAccepted {
			t.Errorf("%s: class %s with %d messages, traces %v; want %s with %d+", id, tr.Class, tr.Accepted, tr.Traces, class, minAccepted)
		}
	}
	check("x-loud", "loud", 190)
	check("x-own", "undetectable", 5)
	check("x-start", "loud", 300)
	check("x-dormant", "loud", 110)
	check("x-grep", "loud", 190)
	// the IMAP login comes first; a grep excerpt has no IMAP line and
	// starts at the first message
	if l, g := truths["x-loud"], truths["x-grep"]; l != nil && g != nil {
		if !l.Start.Before(g.Start) {
			t.Errorf("IMAP login first: start %v, grep excerpt's %v", l.Start, g.Start)
		}
		if len(g.Traces) >= len(l.Traces) {
			t.Errorf("a grep excerpt shows fewer traces: %v against %v", g.Traces, l.Traces)
		}
	}
}
