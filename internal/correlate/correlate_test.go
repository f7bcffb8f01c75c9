package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/event"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestNamesAreCapped(t *testing.T) {
	c := New(Config{MaxNames: 1000})
	for i := 0; i < 50000; i++ {
		c.Add(&event.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: event.AuthFailure,
			Login: fmt.Sprintf("user%d", i), ClientIP: "203.0.113.1", Count: 1})
	}
	if n := len(c.accounts); n != 1000 {
		t.Errorf("%d accounts tracked, want the cap of 1000", n)
	}
	if c.Stats.UntrackedNames != 49000 {
		t.Errorf("untracked names %d", c.Stats.UntrackedNames)
	}
	if c.Stats.AuthFailures != 50000 {
		t.Errorf("failures %d", c.Stats.AuthFailures)
	}
}

// TestOpenMessagesExpire: queue ids that never see "removed" leave the
// working set after Expire of event time, so memory follows what is open.
func TestOpenMessagesExpire(t *testing.T) {
	c := New(Config{Expire: 48 * time.Hour})
	for i := 0; i < 10000; i++ {
		tm := t0.Add(time.Duration(i) * time.Minute)
		qid := fmt.Sprintf("%010X", i)
		login := ""
		if i%2 == 0 {
			login = "alice@lab.test"
		}
		c.Add(&event.Event{Time: tm, Host: "mx1", PID: 100 + i%50, Kind: event.Client, QID: qid, Login: login, ClientIP: "198.51.100.7"})
		c.Add(&event.Event{Time: tm, Host: "mx1", Kind: event.From, QID: qid, Sender: "alice@lab.test", Nrcpt: 1})
	}
	open := len(c.msgs) + len(c.light)
	// 48 hours of messages at one a minute, plus up to an hour of sweep slack
	if open > 48*60+60+10 || open < 48*60 {
		t.Errorf("%d messages open after a week of never-removed mail", open)
	}
	if c.Stats.Expired < 10000-48*60-60 {
		t.Errorf("expired %d", c.Stats.Expired)
	}
	if len(c.sessions) > 50 {
		t.Errorf("%d sessions", len(c.sessions))
	}
}

func TestRemovedFreesAndReuses(t *testing.T) {
	c := New(Config{})
	for i := 0; i < 1000; i++ {
		tm := t0.Add(time.Duration(i) * time.Second)
		for _, ev := range []event.Event{
			{Time: tm, Host: "mx1", Kind: event.Client, QID: "ABCDEF1234", Login: fmt.Sprintf("u%d@lab.test", i%3), ClientIP: "198.51.100.7"},
			{Time: tm, Host: "mx1", Kind: event.From, QID: "ABCDEF1234", Sender: "x@lab.test", Nrcpt: 2},
			{Time: tm, Host: "mx1", Kind: event.Delivery, QID: "ABCDEF1234", Recipient: "a@b", Status: "sent"},
			{Time: tm, Host: "mx1", Kind: event.Delivery, QID: "ABCDEF1234", Recipient: "c@d", Status: "bounced", Reply: "550 no"},
			{Time: tm, Host: "mx1", Kind: event.Removed, QID: "ABCDEF1234"},
		} {
			c.Add(&ev)
		}
	}
	if len(c.msgs) != 0 {
		t.Errorf("%d messages open", len(c.msgs))
	}
	total := 0
	for _, a := range c.accounts {
		total += a.Messages
		if a.Sent != a.Messages || a.Bounced != a.Messages {
			t.Errorf("%s: sent %d bounced %d of %d", a.Login, a.Sent, a.Bounced, a.Messages)
		}
	}
	if total != 1000 {
		t.Errorf("%d messages counted", total)
	}
}

func TestSpamSignal(t *testing.T) {
	for _, tc := range []struct {
		dsn, reply string
		want       bool
	}{
		{"5.7.1", "550 5.7.1 Message rejected as spam", true},
		{"4.7.0", "421 4.7.0 [TSS04] Messages from 1.2.3.4 temporarily deferred", true},
		{"5.0.0", "554 Service unavailable; Client host [1.2.3.4] blocked using zen.spamhaus.org", true},
		{"4.7.1", "450 4.7.1 <a@b>: Recipient address rejected: Greylisted, see http://postgrey", false},
		{"4.4.1", "connect to x[1.2.3.4]:25: Connection refused", false},
		{"5.1.1", "550 5.1.1 user unknown", false},
		// temporary refusals that say nothing about the sender
		{"4.7.500", "451 4.7.500 Server busy. Please try again later from [1.2.3.4]", false},
		{"4.7.0", "421 4.7.0 Try again later, closing connection.", false},
		{"4.7.5", "Server certificate not verified", false},
		{"4.7.0", "421-4.7.0 This message was blocked because its content presents a potential security issue ... unsolicited mail", true},
		// permanent refusals about encryption, not the mail
		{"5.7.0", "530 5.7.0 Must issue a STARTTLS command first", false},
		{"5.7.1", "550 5.7.1 Service unavailable, Client host [1.2.3.4] blocked using Spamhaus", true},
		{"5.7.1", "554 5.7.1 <x@y>: Relay access denied", true},
	} {
		if got := spamSignal(tc.dsn, tc.reply); got != tc.want {
			t.Errorf("spamSignal(%q, %q) = %v", tc.dsn, tc.reply, got)
		}
	}
}

func TestOnVerdict(t *testing.T) {
	type rise struct {
		login    string
		from, to string
	}
	var got []rise
	c := New(Config{OnVerdict: func(a *Account, from, to detect.Verdict, at time.Time) {
		got = append(got, rise{a.Login, from.String(), to.String()})
	}})
	for i := 0; i < 200; i++ {
		tm := t0.Add(time.Duration(i) * 5 * time.Second)
		qid := fmt.Sprintf("%010X", i)
		c.Add(&event.Event{Time: tm, Host: "mx1", Kind: event.Client, QID: qid, Login: "victim@lab.test", ClientIP: fmt.Sprintf("203.0.113.%d", i%12)})
		c.Add(&event.Event{Time: tm, Host: "mx1", Kind: event.From, QID: qid, Sender: fmt.Sprintf("x@spam%d.example", i), Nrcpt: 1})
	}
	if len(got) == 0 || got[len(got)-1] != (rise{"victim@lab.test", got[len(got)-1].from, "compromised"}) {
		t.Fatalf("rises %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].from != got[i-1].to {
			t.Errorf("rises not in sequence: %v", got)
		}
	}
}

// TestFailuresCountedOnce: one SMTP attempt through Dovecot SASL logs a
// Postfix warning and a Dovecot passdb line; one IMAP attempt a login-process
// line and a passdb line. Each is one failed login.
func TestFailuresCountedOnce(t *testing.T) {
	c := New(Config{})
	at := t0
	for i := 0; i < 5; i++ { // five SMTP attempts
		at = at.Add(time.Second)
		c.Add(&event.Event{Time: at, Kind: event.AuthFailure, Source: event.Dovecot, Service: "auth", Login: "erin@lab.test", ClientIP: "203.0.113.1"})
		c.Add(&event.Event{Time: at, Kind: event.AuthFailure, Source: event.Postfix, Login: "erin@lab.test", ClientIP: "203.0.113.1"})
	}
	for i := 0; i < 3; i++ { // three IMAP attempts, postfix-side line first this time
		at = at.Add(time.Second)
		c.Add(&event.Event{Time: at, Kind: event.AuthFailure, Source: event.Dovecot, Service: "imap", Login: "erin@lab.test", ClientIP: "203.0.113.1"})
		c.Add(&event.Event{Time: at, Kind: event.AuthFailure, Source: event.Dovecot, Service: "auth", Login: "erin@lab.test", ClientIP: "203.0.113.1"})
	}
	// and two from another IP seen by Postfix only (no passdb lines: another SASL backend)
	c.Add(&event.Event{Time: at, Kind: event.AuthFailure, Source: event.Postfix, Login: "erin@lab.test", ClientIP: "203.0.113.2", Count: 2})
	a := c.Account("erin@lab.test")
	if a == nil || a.FailedLogins != 10 {
		t.Fatalf("failed logins %+v, want 10", a)
	}
	if c.Stats.AuthFailures != 10 {
		t.Errorf("stats %d", c.Stats.AuthFailures)
	}
}

// TestLongRecipientOnce: a recipient longer than the kept length is one
// recipient across its status lines (it was matched unclipped against its
// clipped copy, and counted once per line).
func TestLongRecipientOnce(t *testing.T) {
	c := New(Config{})
	long := strings.Repeat("x", 400) + "@example.net"
	c.Add(&event.Event{Time: t0, Host: "mx1", PID: 7, Kind: event.Client, QID: "AB12", Login: "alice@lab.test", ClientIP: "198.51.100.7"})
	c.Add(&event.Event{Time: t0, Host: "mx1", Kind: event.From, QID: "AB12", Sender: "alice@lab.test", Nrcpt: 1})
	for i, st := range []string{"deferred", "deferred", "sent"} {
		c.Add(&event.Event{Time: t0.Add(time.Duration(i) * time.Minute), Host: "mx1", Kind: event.Delivery, QID: "AB12",
			Recipient: long, Status: st, Relay: "mx.example.net[192.0.2.1]:25"})
	}
	c.Add(&event.Event{Time: t0.Add(time.Hour), Host: "mx1", Kind: event.Removed, QID: "AB12"})
	a := c.Account("alice@lab.test")
	if a == nil {
		t.Fatal("no account")
	}
	if a.Sent != 1 || a.Deferred != 0 {
		t.Errorf("sent %d deferred %d, want 1 and 0", a.Sent, a.Deferred)
	}
}

// TestKeysAreCopies: event strings may point into a read buffer that is
// reused once the event is consumed (the scan's chunks, watch's line
// buffer). What the correlator keeps must not: failed logins counted from
// an address are found again after the buffer held other lines. (A Go map
// assigned an existing key keeps the new key's string, so m[k] += n with
// such a k used to leave the key in the buffer.)
func TestKeysAreCopies(t *testing.T) {
	c := New(Config{})
	buf := []byte("203.0.113.77")
	view := unsafe.String(&buf[0], len(buf))
	for i := 0; i < 3; i++ {
		c.Add(&event.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: event.AuthFailure,
			Login: "mallory@lab.test", ClientIP: view, Count: 1})
	}
	copy(buf, "198.51.100.1") // the buffer now holds another line
	c.Add(&event.Event{Time: t0.Add(time.Minute), Host: "mx1", PID: 9, Kind: event.Client, QID: "C0FFEE",
		Login: "alice@lab.test", ClientIP: "203.0.113.77"})
	c.Add(&event.Event{Time: t0.Add(time.Minute), Host: "mx1", Kind: event.From, QID: "C0FFEE", Sender: "alice@lab.test", Nrcpt: 1})
	if a := c.Account("alice@lab.test"); a == nil || a.FailuresFromItsIPs != 3 {
		t.Errorf("failures from alice's IP before her login: %+v, want 3", a)
	}
	if n, _ := c.ipFail.get("203.0.113.77"); n != 3 {
		t.Errorf("failures counted for 203.0.113.77: %d", n)
	}
	if _, ok := c.ipFail.get("198.51.100.1"); ok {
		t.Error("the buffer's new content became a key")
	}
}

// TestSubdomainsOfInferredDomainsAreOwn: without configured domains, a
// sender in a subdomain of a domain learnt from the logins (cron's
// root@web1.example.org) is the organisation's, as for configured ones.
func TestSubdomainsOfInferredDomainsAreOwn(t *testing.T) {
	c := New(Config{})
	for i, sender := range []string{"root@web1.example.org", "root@db.ldap.example.org", "x@example.org.evil.test", "y@badexample.org", "scanner@mfp-02.office.lan", "root@nas.home.arpa"} {
		qid := fmt.Sprintf("AB%02d", i)
		at := t0.Add(time.Duration(i) * time.Minute)
		c.Add(&event.Event{Time: at, Host: "mx1", PID: 7, Kind: event.Client, QID: qid, Login: "cron@example.org", ClientIP: "198.51.100.7"})
		c.Add(&event.Event{Time: at, Host: "mx1", Kind: event.From, QID: qid, Sender: sender, Nrcpt: 1})
	}
	a := c.Account("cron@example.org")
	if a == nil {
		t.Fatal("no account")
	}
	if got := a.ForeignDomains.Len(); got != 2 || a.ForeignMessages != 2 {
		t.Errorf("%d foreign domains, %d foreign messages; want 2 and 2 (example.org.evil.test, badexample.org)", got, a.ForeignMessages)
	}
}

// TestRejectionOncePerRecipient: a recipient whose server refuses the
// message for spam on every retry is one rejection, not one per attempt.
func TestRejectionOncePerRecipient(t *testing.T) {
	c := New(Config{})
	c.Add(&event.Event{Time: t0, Host: "mx1", PID: 7, Kind: event.Client, QID: "AB12", Login: "alice@lab.test", ClientIP: "198.51.100.7"})
	c.Add(&event.Event{Time: t0, Host: "mx1", Kind: event.From, QID: "AB12", Sender: "alice@lab.test", Nrcpt: 2})
	reply := "host mx.example.net[192.0.2.1] said: 421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume or user complaints"
	for i := 0; i < 6; i++ {
		c.Add(&event.Event{Time: t0.Add(time.Duration(i) * 10 * time.Minute), Host: "mx1", Kind: event.Delivery, QID: "AB12",
			Recipient: "bob@example.net", Status: "deferred", DSN: "4.7.0", Reply: reply, Relay: "mx.example.net[192.0.2.1]:25"})
	}
	c.Add(&event.Event{Time: t0.Add(time.Hour), Host: "mx1", Kind: event.Delivery, QID: "AB12",
		Recipient: "carol@example.net", Status: "bounced", DSN: "5.7.1", Reply: "host mx.example.net[192.0.2.1] said: 550 5.7.1 rejected as spam", Relay: "mx.example.net[192.0.2.1]:25"})
	a := c.Account("alice@lab.test")
	if a == nil {
		t.Fatal("no account")
	}
	if a.RemoteRejections != 2 {
		t.Errorf("%d remote rejections, want 2 (one per recipient)", a.RemoteRejections)
	}
}

// TestBareLoginsOwnDomain: logins without a domain (jordy) have none from
// their name: a domain that most of them send as, two at least, is the
// organisation's; a bare host name is never a foreign sender domain.
func TestBareLoginsOwnDomain(t *testing.T) {
	c := New(Config{})
	n := 0
	send := func(login, sender string) {
		n++
		qid := fmt.Sprintf("BA%03d", n)
		at := t0.Add(time.Duration(n) * time.Minute)
		c.Add(&event.Event{Time: at, Host: "mx1", PID: 7, Kind: event.Client, QID: qid, Login: login, ClientIP: "198.51.100.7"})
		c.Add(&event.Event{Time: at, Host: "mx1", Kind: event.From, QID: qid, Sender: sender, Nrcpt: 1})
	}
	send("jordy", "jordy@example.nl")   // one bare login: not yet the organisation's
	send("jordy", "root@dmnenix")       // a bare host name: never foreign
	send("piet", "piet@example.nl")     // two of two bare logins: example.nl is own
	send("klaas", "klaas@example.nl")   // so it is klaas's own at once
	send("klaas", "promo@spam.example") // and another domain is not
	for login, want := range map[string]int{"jordy": 1, "piet": 0, "klaas": 1} {
		a := c.Account(login)
		if a == nil {
			t.Fatalf("no account %s", login)
		}
		if a.ForeignMessages != want {
			t.Errorf("%s: %d foreign messages (%v), want %d", login, a.ForeignMessages, a.ForeignDomains.Top(5), want)
		}
	}
	if c.Account("klaas").ForeignDomains.Top(1)[0].Key != "spam.example" {
		t.Errorf("klaas's foreign domain: %v", c.Account("klaas").ForeignDomains.Top(1))
	}
}
