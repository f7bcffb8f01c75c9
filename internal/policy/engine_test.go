package policy

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.StateDir = ""
	cfg.Rules = Rules{
		MessagesPerMinute:     Rule{Limit: 3, Action: DeferIfPermit},
		RecipientsPerHour:     Rule{Limit: 10, Action: Hold},
		ClientNetworksPerHour: Rule{Limit: 2, Action: Reject, Compromised: true},
		SenderDomainsPerHour:  Rule{Limit: 3, Action: DeferIfPermit},
		ForeignSendersPerHour: Rule{Limit: 1, Action: Hold},
	}
	return cfg
}

func rcpt(login, instance, rcptTo string) *Request {
	return &Request{
		Request: "smtpd_access_policy", ProtocolState: "RCPT", SASLUsername: login,
		ClientAddress: "127.0.0.66", Sender: login, Recipient: rcptTo, Instance: instance, RecipientCount: 0,
	}
}

func stage(r *Request, state string, count int) *Request {
	c := *r
	c.ProtocolState, c.RecipientCount = state, count
	if count > 1 {
		c.Recipient = ""
	}
	return &c
}

func newTestEngine(cfg Config) (*Engine, *LocalCounters) {
	lc := NewLocalCounters(cfg.MaxLogins)
	return NewEngine(cfg, lc, slog.New(slog.DiscardHandler), NewMetrics(nil)), lc
}

func TestMessageCountedOnce(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		requests func(i int) []*Request
		wantMsgs int
		wantRcpt int
	}{
		{"rcpt, data and eom", func(i int) []*Request {
			r := rcpt("a@lab.test", fmt.Sprint("i", i), "x@ext.test")
			r2 := rcpt("a@lab.test", fmt.Sprint("i", i), "y@ext.test")
			return []*Request{r, r2, stage(r, "DATA", 2), stage(r, "END-OF-MESSAGE", 2)}
		}, 1, 2},
		{"data only", func(i int) []*Request {
			return []*Request{stage(rcpt("a@lab.test", fmt.Sprint("i", i), ""), "DATA", 5)}
		}, 1, 5},
		{"eom only", func(i int) []*Request {
			return []*Request{stage(rcpt("a@lab.test", fmt.Sprint("i", i), ""), "END-OF-MESSAGE", 4)}
		}, 1, 4},
		{"rcpt only", func(i int) []*Request {
			r := rcpt("a@lab.test", fmt.Sprint("i", i), "x@ext.test")
			return []*Request{r, r, r}
		}, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Rules = Rules{}
			e, lc := newTestEngine(cfg)
			for _, r := range tt.requests(1) {
				if d := e.Decide(ctx, r, t0); d.Action != Dunno {
					t.Fatalf("Decide = %+v", d)
				}
			}
			tot, _ := lc.Observe(ctx, Observation{Login: "a@lab.test"}, t0)
			if tot.Messages[0] != tt.wantMsgs || tot.Recipients[0] != tt.wantRcpt {
				t.Fatalf("messages %d recipients %d; want %d %d", tot.Messages[0], tot.Recipients[0], tt.wantMsgs, tt.wantRcpt)
			}
			if n := e.instances.len(); n != 0 && tt.name != "rcpt only" && tt.name != "data only" {
				t.Fatalf("instances left after END-OF-MESSAGE: %d", n)
			}
		})
	}
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	type step struct {
		req  *Request
		at   time.Duration
		want Action
		rule string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"messages per minute defers the fourth, then recovers", []step{
			{rcpt("a@lab.test", "1", "x@e.test"), 0, Dunno, ""},
			{rcpt("a@lab.test", "2", "x@e.test"), time.Second, Dunno, ""},
			{rcpt("a@lab.test", "3", "x@e.test"), 2 * time.Second, Dunno, ""},
			{rcpt("a@lab.test", "4", "x@e.test"), 3 * time.Second, DeferIfPermit, RuleMessagesPerMinute},
			{rcpt("b@lab.test", "5", "x@e.test"), 4 * time.Second, Dunno, ""},
			{rcpt("A@LAB.TEST", "6", "x@e.test"), 5 * time.Second, DeferIfPermit, RuleMessagesPerMinute},
			{rcpt("a@lab.test", "7", "x@e.test"), 2 * time.Minute, Dunno, ""},
		}},
		{"recipients per hour holds, most severe action wins", []step{
			{stage(rcpt("a@lab.test", "1", ""), "DATA", 10), 0, Dunno, ""},
			{stage(rcpt("a@lab.test", "2", ""), "DATA", 1), time.Minute, Hold, RuleRecipientsPerHour},
		}},
		{"overlong login is answered DUNNO", []step{
			{rcpt(strings.Repeat("x", MaxLoginLen+1), "1", "x@e.test"), 0, Dunno, ""},
			{rcpt(strings.Repeat("x", MaxLoginLen+1), "2", "x@e.test"), 0, Dunno, ""},
			{rcpt(strings.Repeat("x", MaxLoginLen+1), "3", "x@e.test"), 0, Dunno, ""},
			{rcpt(strings.Repeat("x", MaxLoginLen+1), "4", "x@e.test"), 0, Dunno, ""},
		}},
		{"no login is not ours", []step{
			{rcpt("", "1", "x@e.test"), 0, Dunno, ""},
			{rcpt("", "2", "x@e.test"), 0, Dunno, ""},
			{rcpt("", "3", "x@e.test"), 0, Dunno, ""},
			{rcpt("", "4", "x@e.test"), 0, Dunno, ""},
		}},
		{"other request types are not ours", []step{
			{&Request{Request: "junk", SASLUsername: "blocked@lab.test", ProtocolState: "RCPT"}, 0, Dunno, ""},
		}},
		{"static block list", []step{
			{rcpt("Blocked@lab.test", "1", "x@e.test"), 0, Reject, RuleBlocked},
		}},
		{"foreign senders", []step{
			{&Request{ProtocolState: "RCPT", SASLUsername: "a@lab.test", Sender: "a@own.test", Instance: "1"}, 0, Dunno, ""},
			{&Request{ProtocolState: "RCPT", SASLUsername: "a@lab.test", Sender: "a@LAB.test", Instance: "2"}, time.Minute, Dunno, ""},
			{&Request{ProtocolState: "RCPT", SASLUsername: "a@lab.test", Sender: "x@promo.test", Instance: "3"}, 2 * time.Minute, Dunno, ""},
			{&Request{ProtocolState: "RCPT", SASLUsername: "a@lab.test", Sender: "y@promo.test", Instance: "4"}, 3 * time.Minute, Hold, RuleForeignSendersPerHour},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.BlockedLogins = []string{"blocked@LAB.test"}
			cfg.OwnDomains = []string{"own.test"}
			e, _ := newTestEngine(cfg)
			for i, s := range tt.steps {
				d := e.Decide(ctx, s.req, t0.Add(s.at))
				if d.Action != s.want || d.Rule != s.rule {
					t.Fatalf("step %d: Decide = %v %q; want %v %q", i, d.Action, d.Rule, s.want, s.rule)
				}
				if d.Action != Dunno && d.Text == "" {
					t.Fatalf("step %d: no reply text", i)
				}
			}
		})
	}
}

func TestCompromisedBlocksUntilLifted(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	e, _ := newTestEngine(cfg)
	ips := []string{"192.0.2.1", "198.51.100.7", "2001:db8:1::1"}
	var d Decision
	for i, ip := range ips {
		r := rcpt("victim@lab.test", fmt.Sprint(i), "x@e.test")
		r.ClientAddress = ip
		d = e.Decide(ctx, r, t0.Add(time.Duration(i)*time.Second))
	}
	if d.Action != Reject || d.Rule != RuleClientNetworksPerHour || !d.NewBlock || d.Text != cfg.Replies.Blocked {
		t.Fatalf("third network: %+v", d)
	}
	select {
	case ev := <-e.Events():
		if ev.Login != "victim@lab.test" || ev.Rule != RuleClientNetworksPerHour || !ev.At.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("event = %+v", ev)
		}
	default:
		t.Fatal("no block event")
	}
	// Days later, from the usual address, still blocked.
	d = e.Decide(ctx, rcpt("Victim@lab.test", "x", "x@e.test"), t0.Add(72*time.Hour))
	if d.Action != Reject || d.Rule != RuleBlocked || d.NewBlock {
		t.Fatalf("later request: %+v", d)
	}
	if d := e.Decide(ctx, rcpt("other@lab.test", "y", "x@e.test"), t0.Add(72*time.Hour)); d.Action != Dunno {
		t.Fatalf("other login: %+v", d)
	}
	// Lifting: the sync layer replaces the synced set without the login.
	e.Blocks().removeDynamic("victim@lab.test")
	e.Blocks().SetSynced(map[string]bool{})
	if d := e.Decide(ctx, rcpt("victim@lab.test", "z", "x@e.test"), t0.Add(73*time.Hour)); d.Action != Dunno {
		t.Fatalf("after lifting: %+v", d)
	}
}

func TestFailOpen(t *testing.T) {
	cfg := testConfig()
	cfg.BlockedLogins = []string{"bad@lab.test"}
	e := NewEngine(cfg, failingCounters{}, slog.New(slog.DiscardHandler), nil)
	if d := e.Decide(context.Background(), rcpt("a@lab.test", "1", "x@e.test"), t0); d.Action != Dunno {
		t.Fatalf("counter failure: %+v; want DUNNO", d)
	}
	if d := e.Decide(context.Background(), rcpt("bad@lab.test", "1", "x@e.test"), t0); d.Action != Reject {
		t.Fatalf("blocked login with failing counters: %+v; want REJECT", d)
	}
}

type failingCounters struct{}

func (failingCounters) Observe(context.Context, Observation, time.Time) (Totals, error) {
	return Totals{}, ErrRedisDown
}

func (failingCounters) Reset(context.Context, string) error { return ErrRedisDown }

func TestInstanceTrackerBounded(t *testing.T) {
	tr := newInstanceTracker(100, time.Hour)
	for i := 0; i < 10000; i++ {
		tr.observe(uint64(i), "RCPT", 1, false, t0)
	}
	if n := tr.len(); n > 100 {
		t.Fatalf("tracker holds %d; want at most 100", n)
	}
	if len(tr.order)-tr.head > 200 {
		t.Fatalf("order queue not compacted: %d live entries", len(tr.order)-tr.head)
	}
	tr.sweep(t0.Add(2 * time.Hour))
	if n := tr.len(); n != 0 {
		t.Fatalf("after TTL: %d left", n)
	}
	isNew, _ := tr.observe(9999, "RCPT", 1, false, t0.Add(2*time.Hour))
	if !isNew {
		t.Fatal("expired instance not counted as new")
	}
}

func TestConfigLoad(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr bool
		check   func(Config) bool
	}{
		{"example", ExampleConfig, false, func(c Config) bool {
			return c.Rules.MessagesPerMinute.Limit == 30 && c.BlockAction == Reject
		}},
		{"empty keeps defaults", "", false, func(c Config) bool { return c.Rules.RecipientsPerDay.Compromised }},
		{"override one key", "[policy.rules.messages_per_hour]\nlimit = 5\n", false, func(c Config) bool {
			return c.Rules.MessagesPerHour.Limit == 5 && c.Rules.MessagesPerHour.Action == DeferIfPermit
		}},
		{"other sections are not ours", "[scan]\nfoo = 1\n", false, nil},
		{"unknown key", "[policy]\nlisten_on = []\n", true, nil},
		{"unknown rule", "[policy.rules.bogus]\nlimit = 1\n", true, nil},
		{"bad action", "[policy.rules.messages_per_hour]\naction = \"OK\"\n", true, nil},
		{"reply with newline", "[policy.replies]\nreject = \"a\\nb\"\n", true, nil},
		{"bad listen", "[policy]\nlisten = [\"udp:1.2.3.4:5\"]\n", true, nil},
		{"relative unix", "[policy]\nlisten = [\"unix:sock\"]\n", true, nil},
		{"distinct limit too high", "[policy.rules.client_ips_per_hour]\nlimit = 64\n", true, nil},
		{"dunno block action", "[policy]\nblock_action = \"DUNNO\"\n", true, nil},
		{"bad duration", "[policy]\nidle_timeout = \"soon\"\n", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeConfig("test.toml", tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v; wantErr %v", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}
