package detect

import (
	"os"
	"strings"
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

// oneForgedDomain: a login with a week of history sends, from three new
// IPs, 24 messages as one foreign domain at two an hour.
func oneForgedDomain(cfg Config) *State {
	f := &feed{cfg: cfg, s: NewState()}
	f.cfg.Normalize()
	tm := f.baseline(8)
	ips := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}
	for i := range 24 {
		f.msg(tm.Add(time.Duration(i)*30*time.Minute), ips[i%3], "forged.example", true)
	}
	return f.s
}

// min_foreign_domains decides how many foreign sender domains are forgery
// enough: at 1, one forged domain from new IPs is a takeover.
func TestMinForeignDomainsChangesTheVerdict(t *testing.T) {
	def := oneForgedDomain(DefaultConfig())
	if def.Verdict() != OK {
		t.Fatalf("default: %v (score %d), want ok", def.Verdict(), def.Score())
	}
	cfg := DefaultConfig()
	cfg.FewForeignDomains, cfg.MinForeignDomains = 1, 1
	one := oneForgedDomain(cfg)
	if one.Verdict() != Compromised {
		t.Fatalf("min_foreign_domains 1: %v (score %d, rules %v), want compromised", one.Verdict(), one.Score(), one.Best().Rules)
	}
	if !hasRule(one.Best().Rules, "forged_domains") || !hasRule(one.Best().Rules, "forged_from_new_ips") {
		t.Errorf("rules %v lack forged_domains and forged_from_new_ips", one.Best().Rules)
	}
}

func hasRule(fs []Fired, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

// A reason is printed from a rule that fired: bounces under the rule's
// threshold say nothing, at it they say how many.
func TestReasonsComeFromTheRulesThatFired(t *testing.T) {
	for _, bounces := range []int{9, 10} {
		f := newFeed()
		tm := f.baseline(8)
		for i := range 60 {
			f.msg(tm.Add(time.Duration(i)*10*time.Second), "203.0.113.9", "spam"+string(rune('a'+i%12))+".example", true)
		}
		for i := range bounces {
			f.s.Bounce(&f.cfg, tm.Add(10*time.Minute+time.Duration(i)*time.Second))
		}
		b := f.s.Best()
		r := Reasons(b, time.UTC)
		said := false
		for _, x := range r {
			said = said || x == "caused 10 bounces"
		}
		if fired := hasRule(b.Rules, "bounces"); fired != (bounces >= 10) || said != fired {
			t.Errorf("%d bounces: rule fired %v, reasons %q", bounces, fired, r)
		}
	}
}

// The README's list of rules is the table's rendering.
func TestREADMERulesAreTheTable(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- rules:begin -->\n", "<!-- rules:end -->"
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q section", begin, end)
	}
	if got, want := s[i+len(begin):j], RulesMarkdown(); got != want {
		t.Errorf("README.md's rules differ from the table; paste `saslguard rules --markdown` between the markers.\nREADME:\n%s\ntable:\n%s", got, want)
	}
}
