package correlate

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

// feedSkipping feeds evs as the scan's parse stage does: in stretches of
// random length, each filtered by a Skipper, with a time-only event for a
// stretch that ends in skipped events. It returns how many were skipped.
func feedSkipping(c *Correlator, evs []event.Event, seed uint64) int {
	r := rand.New(rand.NewPCG(seed, 1))
	sk := c.NewSkipper()
	skipped := 0
	for i := 0; i < len(evs); {
		n := min(1+r.IntN(5000), len(evs)-i)
		sk.Reset()
		var tail *event.Event
		for j := i; j < i+n; j++ {
			ev := evs[j]
			Prepare(&ev)
			if sk.Skip(&ev) {
				skipped++
				tail = &event.Event{Time: ev.Time, Prepared: true}
				continue
			}
			tail = nil
			c.Add(&ev)
		}
		if tail != nil {
			c.Add(tail)
		}
		i += n
	}
	return skipped
}

// TestSkipperChangesNothing: dropping what the Skipper drops leaves the
// correlator's result as it was, on a generated log.
func TestSkipperChangesNothing(t *testing.T) {
	evs := eightMiB(t)
	want := New(Config{})
	feed(want, evs)
	want.Finish()
	for seed := uint64(1); seed <= 3; seed++ {
		got := New(Config{})
		skipped := feedSkipping(got, evs, seed)
		got.Finish()
		if skipped < len(evs)/10 {
			t.Errorf("seed %d: %d of %d events skipped: the test does not exercise the skipper", seed, skipped, len(evs))
		}
		compareCorrelators(t, "skipping", want, got)
	}
}

// TestSkipperEdges: a reused queue id, a pickup, a login, a remote
// delivery, a bounce and a late line are each treated as the correlator
// would treat them.
func TestSkipperEdges(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ev := func(s int, k event.Kind, qid string, f func(*event.Event)) event.Event {
		e := event.Event{Time: at(s), Host: "mx1", PID: 50, Kind: k, QID: qid, Count: 1}
		if f != nil {
			f(&e)
		}
		return e
	}
	inbound := func(e *event.Event) { e.ClientIP = "192.0.2.9" }
	auth := func(e *event.Event) { e.ClientIP = "198.51.100.4"; e.Login = "alice@lab.test" }
	from := func(s string) func(*event.Event) { return func(e *event.Event) { e.Sender = s; e.Nrcpt = 1 } }
	to := func(rcpt, relay string) func(*event.Event) {
		return func(e *event.Event) { e.Recipient, e.Relay, e.Status = rcpt, relay, "sent" }
	}
	evs := []event.Event{
		ev(0, event.Client, "AAA1", inbound),
		ev(1, event.From, "AAA1", from("x@ext.example")),
		ev(1, event.MessageID, "AAA1", func(e *event.Event) { e.MessageID = "m1@ext.example" }),
		ev(2, event.Delivery, "AAA1", to("bob@lab.test", "mail.lab.test[private/dovecot-lmtp]")),
		ev(2, event.Delivery, "AAA1", to("far@else.example", "mx.else.example[203.0.113.8]:25")),
		ev(3, event.Notify, "AAA1", func(e *event.Event) { e.NewQID = "BBB1" }),
		ev(4, event.Removed, "AAA1", nil),
		// the id again, now alice's
		ev(5, event.Client, "AAA1", auth),
		ev(6, event.From, "AAA1", from("alice@lab.test")),
		ev(7, event.Delivery, "AAA1", to("carol@ext.example", "mx.ext.example[203.0.113.9]:25")),
		ev(8, event.Removed, "AAA1", nil),
		// inbound, then a pickup reuses the id before its removal
		ev(9, event.Client, "CCC1", inbound),
		ev(10, event.Pickup, "CCC1", func(e *event.Event) { e.Sender = "root@lab.test" }),
		ev(11, event.From, "CCC1", from("root@lab.test")),
		// inbound, and a line two hours later
		ev(12, event.Client, "DDD1", inbound),
		ev(7212, event.From, "DDD1", from("y@ext.example")),
		ev(7213, event.Expired, "DDD1", nil),
		// inbound mail whose removal was not logged (a milter rejected
		// it in DATA); then a bounce of alice's mail and a content
		// filter's copy of it take such ids
		ev(7300, event.Client, "EEE1", inbound),
		ev(7300, event.Client, "EEE2", inbound),
		ev(7301, event.Client, "FFF1", auth),
		ev(7302, event.From, "FFF1", from("alice@lab.test")),
		ev(7303, event.Delivery, "FFF1", func(e *event.Event) {
			e.Recipient, e.Relay, e.Status, e.NewQID = "x@ext.example", "127.0.0.1[127.0.0.1]:10024", "sent", "EEE2"
		}),
		ev(7304, event.From, "EEE2", from("alice@lab.test")),
		ev(7305, event.Delivery, "EEE2", func(e *event.Event) {
			e.Recipient, e.Relay, e.Status, e.Reply = "x@ext.example", "mx.ext.example[203.0.113.9]:25", "bounced", "550 5.7.1 spam"
		}),
		ev(7306, event.Notify, "EEE2", func(e *event.Event) { e.NewQID = "EEE1" }),
		ev(7306, event.From, "EEE1", from("")),
		ev(7307, event.Delivery, "EEE1", to("alice@lab.test", "mail.lab.test[private/dovecot-lmtp]")),
		ev(7308, event.Removed, "EEE1", nil),
		ev(7308, event.Removed, "EEE2", nil),
		ev(7308, event.Removed, "FFF1", nil),
	}
	want := New(Config{})
	for i := range evs {
		e := evs[i]
		want.Add(&e)
	}
	got := New(Config{})
	sk := got.NewSkipper()
	kept := 0
	for i := range evs {
		e := evs[i]
		Prepare(&e)
		if !sk.Skip(&e) {
			kept++
			got.Add(&e)
		}
	}
	// skipped: AAA1's first from, message-id, local delivery and notify
	if kept != len(evs)-4 {
		t.Errorf("%d of %d events kept, want all but 4", kept, len(evs))
	}
	compareCorrelators(t, "edges", want, got)
	if a := got.Account("alice@lab.test"); a == nil || a.FilterCopies != 1 || a.Bounces != 1 {
		t.Errorf("alice's filter copy and bounce: %+v", a)
	}
	if got.Unauth.Outbound != 1 || got.Stats.Orphans != want.Stats.Orphans {
		t.Errorf("outbound %d orphans %d, want 1 and %d", got.Unauth.Outbound, got.Stats.Orphans, want.Stats.Orphans)
	}
}

// TestSkippedLinesDoNotMoveSweeps: a sweep drops what it drops as of the
// hour the log reached, so a line left out before it (the first past the
// hour, here) changes nothing. Sweeps used to cut at the time of the line
// that triggered them: alice's message, quiet for just under Expire, was
// expired when the line past the hour was left out, and her delivery
// became an orphan.
func TestSkippedLinesDoNotMoveSweeps(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	evs := []event.Event{
		{Time: at(0), Host: "mx1", PID: 1, Kind: event.Client, QID: "A1", Login: "alice@lab.test", ClientIP: "198.51.100.4"},
		{Time: at(7), Host: "mx1", Kind: event.From, QID: "A1", Sender: "alice@lab.test", Nrcpt: 1},
		{Time: at(1800), Host: "mx1", PID: 2, Kind: event.Client, QID: "X1", ClientIP: "192.0.2.9"},
		{Time: at(3605), Host: "mx1", Kind: event.From, QID: "X1", Sender: "y@ext.example", Nrcpt: 1},
		{Time: at(3609), Host: "mx1", Kind: event.Delivery, QID: "A1", Recipient: "bob@ext.example",
			Relay: "mx.ext.example[203.0.113.9]:25", Status: "sent"},
		{Time: at(3610), Host: "mx1", Kind: event.Removed, QID: "A1"},
	}
	cfg := Config{Expire: time.Hour}
	want := New(cfg)
	feed(want, evs)
	want.Finish()
	got := New(cfg)
	if n := feedSkipping(got, evs, 1); n != 1 {
		t.Fatalf("%d lines skipped, want X1's from", n)
	}
	got.Finish()
	compareCorrelators(t, "sweep", want, got)
	if a := got.Account("alice@lab.test"); a == nil || a.Sent != 1 || got.Stats.Orphans != 0 {
		t.Errorf("alice's delivery: %+v, orphans %d", a, got.Stats.Orphans)
	}
}
