package detect

import (
	"testing"
	"time"
)

func TestRuleTable(t *testing.T) {
	if err := checkTable(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Kind != Score && r.Points != "" {
			t.Errorf("%s: a %s rule gives no points, yet says %q", r.Name, r.Kind, r.Points)
		}
	}
}

// The detector runs at every message: once a login's window holds its
// messages, recording one more allocates nothing.
func TestMessageAllocatesNothing(t *testing.T) {
	f := newFeed()
	tm := f.baseline(8)
	ips := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"}
	for i := range 2000 {
		f.s.Message(&f.cfg, Message{Time: tm.Add(time.Duration(i) * time.Second), IP: ips[i%4], Domain: "spam.example", Foreign: true, Rcpts: 3})
	}
	i := 2000
	allocs := testing.AllocsPerRun(500, func() {
		i++
		f.s.Message(&f.cfg, Message{Time: tm.Add(time.Duration(i) * time.Second), IP: ips[i%4], Domain: "spam.example", Foreign: true, Rcpts: 3})
	})
	if allocs > 0.1 {
		t.Errorf("%.2f allocations a message", allocs)
	}
}

func BenchmarkMessage(b *testing.B) {
	f := newFeed()
	tm := f.baseline(8)
	ips := []string{"203.0.113.1", "203.0.113.2", "198.51.100.10"}
	b.ReportAllocs()
	for i := range b.N {
		f.s.Message(&f.cfg, Message{Time: tm.Add(time.Duration(i) * time.Second), IP: ips[i%3], Domain: "corp.example", Rcpts: 2})
	}
}
