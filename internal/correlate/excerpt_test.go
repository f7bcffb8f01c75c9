package correlate

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

// clientLine is smtpd's "QID: client=..., sasl_username=LOGIN" as an event.
func clientLine(tm time.Time, host, qid, login, ip string) event.Event {
	return event.Event{Time: tm, Host: host, PID: 4242, Source: event.Postfix, Kind: event.Client,
		QID: qid, Login: login, Method: "LOGIN", ClientIP: ip, Count: 1}
}

// TestExcerptCountsClientLines: a log of smtpd's client lines only (grep
// sasl_username) counts each as a message of its login, with its client IP
// and time, whether the excerpt is longer than the wait or shorter.
func TestExcerptCountsClientLines(t *testing.T) {
	for _, span := range []time.Duration{10 * time.Second, 3 * time.Minute} { // 3 min x 40 = 2 h
		t.Run(span.String(), func(t *testing.T) {
			c := New(Config{})
			for i := 0; i < 40; i++ {
				ev := clientLine(t0.Add(time.Duration(i)*span), "mx1", fmt.Sprintf("%010X", i), "alice@example.org", fmt.Sprintf("203.0.113.%d", i%4))
				c.Add(&ev)
			}
			c.Finish()
			a := c.Account("alice@example.org")
			if a == nil {
				t.Fatal("login not seen")
			}
			if a.Messages != 40 || a.IPs.Len() != 4 || a.Sessions == 0 {
				t.Errorf("messages %d, IPs %d, sessions %d; want 40 messages from 4 IPs", a.Messages, a.IPs.Len(), a.Sessions)
			}
			if a.SenderDomains.Len() != 0 || a.ForeignMessages != 0 {
				t.Errorf("sender domains %d, foreign %d: an excerpt shows no sender", a.SenderDomains.Len(), a.ForeignMessages)
			}
			if got := a.Detector().Best().WindowMessages; got == 0 {
				t.Error("the detector was not shown the messages")
			}
		})
	}
}

// TestWholeLogCountsAtQmgrLine: in a whole log a message counts once, at
// its from= line, with its sender; one that never gets a from= line (the
// client left during DATA) does not count, even before the first from=
// line and past the wait.
func TestWholeLogCountsAtQmgrLine(t *testing.T) {
	c := New(Config{})
	add := func(ev event.Event) { c.Add(&ev) }
	// an aborted message at the log's start, before any from= line
	add(clientLine(t0, "mx1", "AAAA000001", "alice@example.org", "203.0.113.1"))
	for i := 0; i < 30; i++ {
		tm := t0.Add(time.Duration(i) * 5 * time.Minute)
		qid := fmt.Sprintf("B%09X", i)
		add(clientLine(tm.Add(time.Second), "mx1", qid, "alice@example.org", "203.0.113.1"))
		if i == 0 {
			// the first from= line comes late: qmgr lags under load
			tm = tm.Add(20 * time.Minute)
		}
		add(event.Event{Time: tm.Add(2 * time.Second), Host: "mx1", Kind: event.From, QID: qid, Sender: "alice@example.org", Nrcpt: 2})
	}
	// an aborted message later on
	add(clientLine(t0.Add(3*time.Hour), "mx1", "AAAA000002", "alice@example.org", "203.0.113.1"))
	add(event.Event{Time: t0.Add(5 * time.Hour), Host: "mx1", Kind: event.AuthFailure, Login: "bob@example.org", ClientIP: "198.51.100.9", Count: 1})
	c.Finish()
	a := c.Account("alice@example.org")
	if a.Messages != 30 || a.Recipients != 60 {
		t.Errorf("messages %d, recipients %d; want 30 and 60 (counted at their from= lines only)", a.Messages, a.Recipients)
	}
	if n := a.SenderDomains.Count("example.org"); n != 30 {
		t.Errorf("sender domain example.org counted %d times, want 30", n)
	}
	if len(c.pending) != 0 {
		t.Errorf("%d messages still waiting after Finish", len(c.pending))
	}
}

// TestExcerptPerHost: one server's log whole, another's an excerpt (logs
// of two servers read together): each host is read as what it is.
func TestExcerptPerHost(t *testing.T) {
	c := New(Config{})
	for i := 0; i < 20; i++ {
		tm := t0.Add(time.Duration(i) * 10 * time.Minute)
		whole := clientLine(tm, "mx1", fmt.Sprintf("A%09X", i), "alice@example.org", "203.0.113.1")
		c.Add(&whole)
		if i%2 == 0 { // every other message of mx1 was aborted
			from := event.Event{Time: tm.Add(time.Second), Host: "mx1", Kind: event.From, QID: whole.QID, Sender: "alice@example.org", Nrcpt: 1}
			c.Add(&from)
		}
		cut := clientLine(tm.Add(2*time.Second), "mx2", fmt.Sprintf("A%09X", i), "bob@example.org", "198.51.100.2")
		c.Add(&cut)
	}
	c.Finish()
	if n := c.Account("alice@example.org").Messages; n != 10 {
		t.Errorf("alice (whole log of mx1): %d messages, want 10", n)
	}
	if n := c.Account("bob@example.org").Messages; n != 20 {
		t.Errorf("bob (excerpt of mx2): %d messages, want 20", n)
	}
}

// TestExcerptKeepsOrder: the messages that waited reach the detector in
// log order, before later ones: an excerpt gives the detector what the
// whole log gives it when the senders are null.
func TestExcerptKeepsOrder(t *testing.T) {
	run := func(whole bool) *Correlator {
		c := New(Config{})
		for i := 0; i < 12; i++ {
			ev := event.Event{Time: t0.Add(time.Duration(i) * time.Second), Host: "mx1", Kind: event.AuthFailure,
				Login: "alice@example.org", ClientIP: "198.51.100.66", Count: 1}
			c.Add(&ev)
		}
		for i := 0; i < 400; i++ {
			// a quiet day from one address, then a burst from new ones
			tm := t0.Add(time.Duration(i) * 5 * time.Minute)
			ip := "203.0.113.1"
			if i >= 300 {
				tm = t0.Add(300*5*time.Minute + time.Duration(i-300)*20*time.Second)
				ip = fmt.Sprintf("198.51.100.%d", 60+i%8)
			}
			ev := clientLine(tm, "mx1", fmt.Sprintf("%010X", i), "alice@example.org", ip)
			c.Add(&ev)
			if whole {
				from := event.Event{Time: tm, Host: "mx1", Kind: event.From, QID: ev.QID}
				c.Add(&from)
			}
		}
		c.Finish()
		return c
	}
	w, x := run(true).Account("alice@example.org"), run(false).Account("alice@example.org")
	if x.Messages != 400 || w.Messages != 400 {
		t.Fatalf("messages: excerpt %d, whole log %d, want 400", x.Messages, w.Messages)
	}
	dw, dx := w.Detector(), x.Detector()
	if dw.Verdict() != dx.Verdict() || dw.Score() != dx.Score() || !dw.Start().Equal(dx.Start()) || !reflect.DeepEqual(dw.Best(), dx.Best()) {
		t.Errorf("excerpt: %v %d start %v %+v\nwhole log: %v %d start %v %+v",
			dx.Verdict(), dx.Score(), dx.Start(), dx.Best(), dw.Verdict(), dw.Score(), dw.Start(), dw.Best())
	}
	if dx.Score() == 0 {
		t.Error("the burst scored nothing: the comparison proves little")
	}
}

// TestExcerptSnapshot: a correlator saved while messages wait for a from=
// line and restored counts them as the one that was not saved does.
func TestExcerptSnapshot(t *testing.T) {
	feed := func(c *Correlator, from, to int) {
		for i := from; i < to; i++ {
			ev := clientLine(t0.Add(time.Duration(i)*time.Minute), "mx1", fmt.Sprintf("%010X", i), "alice@example.org", "203.0.113.1")
			c.Add(&ev)
		}
	}
	whole := New(Config{})
	feed(whole, 0, 30)
	whole.Finish()

	c := New(Config{})
	feed(c, 0, 10)
	var buf bytes.Buffer
	if err := c.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(&buf, Config{})
	if err != nil {
		t.Fatal(err)
	}
	feed(r, 10, 30)
	r.Finish()
	if got, want := r.Account("alice@example.org").Messages, whole.Account("alice@example.org").Messages; got != want || want != 30 {
		t.Errorf("restored: %d messages, uninterrupted: %d, want 30", got, want)
	}
}
