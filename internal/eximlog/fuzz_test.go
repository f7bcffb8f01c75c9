package eximlog

import (
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

// FuzzParse: no line makes the parser panic; what it reads is in the line
// (a login only where "A=method:login" is written, a failed login's name
// only in its set_id), and a second parse of the same line reads the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2026-03-04 02:04:21 1xWoo6-0000l6-0p <= sales@promo1.example H=(ylmf-pc) [127.0.0.66]:46071 P=esmtpa A=PLAIN:alice@lab.test S=469 id=x@y",
		`2014-08-10 11:18:35 [28107] 1gsu1C-003dCu-Hb <= aaron@domain.com H=localhost (10.5.40.204) [127.0.0.1]:39753 I=[127.0.0.1]:25 P=esmtpa A=dovecot_plain:aaron@domain.com S=4315 M8S=0 id=d2b@domain.com T="what's up?!? ;-)" from <aaron@domain.com> for aaron+forward@domain.com`,
		"2026-03-04 02:04:21.345 +0100 10HmbC-000000005vi-0000 <= <> R=10HmbB-000000005vi-0000 U=EXIMUSER P=local S=sss",
		"2026-03-04 02:04:21 1xWoo6-0000l6-0p ** x@y.example R=dnslookup T=remote_smtp H=mx.y.example [192.0.2.9]:25 X=TLS1.3:a:256 CV=yes: SMTP error from remote mail server after RCPT TO:<x@y.example>: 550 5.7.1 spam",
		"2026-03-04 02:04:21 1xWoo6-0000l6-0p == x@y R=dnslookup T=remote_smtp defer (-45) H=mx.y [192.0.2.9]: SMTP error from remote mail server after RCPT TO:<x@y>: 451 4.7.1 listed",
		`2026-03-04 02:04:21 1xWoo6-0000l6-0p => userx6 <userx6@test.ex> R=localuser T=appendfile C="250 OK id=10HmaY-000000005vi-0000"`,
		"2026-03-04 02:04:21 1xWoo6-0000l6-0p Completed",
		"2026-03-04 02:04:21 dovecot_login authenticator failed for (helo) [192.0.2.7]:51781: 535 Incorrect authentication data (set_id=alice@lab.test)",
		"2026-03-04 02:04:21 [77] H=(x) [192.0.2.1]:4000 I=[1.2.3.4]:25 F=<a@b> A=plain:u rejected RCPT <c@d>: relay not permitted",
		"2026-03-04 02:04:21 SMTP connection from [46.148.40.143]:59474 (TCP/IP connection count = 1)",
		"P Received: from [192.0.2.1] (helo=x)",
		"mail.example.com exim[3751842]: 2021-07-17 23:20:49 plain_server authenticator failed for ([192.0.2.17]) [192.0.2.27]: 535 Incorrect authentication data",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var p Parser
		var ev, ev2 event.Event
		var fr Frame
		prog, st := p.ParseNative(line, time.UTC, &ev, &fr)
		if st == NotExim {
			ev = event.Event{}
			prog, st = p.Loose(line, time.UTC, &ev, &fr)
		}
		var fr2 Frame
		prog2, st2 := p.ParseNative(line, time.UTC, &ev2, &fr2)
		if st2 == NotExim {
			ev2 = event.Event{}
			prog2, st2 = p.Loose(line, time.UTC, &ev2, &fr2)
		}
		if prog != prog2 || st != st2 || ev != ev2 {
			t.Fatalf("two parses differ: %q %d %+v / %q %d %+v", prog, st, ev, prog2, st2, ev2)
		}
		if st != Parsed {
			return
		}
		for _, s := range []string{ev.Login, ev.Method, ev.ClientIP, ev.ClientName, ev.Sender, ev.Recipient, ev.Reply, ev.MessageID} {
			if !strings.Contains(line, s) {
				t.Fatalf("field %q not in %q", s, line)
			}
		}
		if ev.Login != "" {
			switch ev.Kind {
			case event.Arrival, event.Reject:
				if !strings.Contains(line, "A="+ev.Method+":"+ev.Login) {
					t.Fatalf("login %q not from A=: %q", ev.Login, line)
				}
			case event.AuthFailure:
				if !strings.Contains(line, "(set_id="+ev.Login) {
					t.Fatalf("login %q not from set_id: %q", ev.Login, line)
				}
			default:
				t.Fatalf("%s with a login: %q", ev.Kind, line)
			}
		}
		for _, q := range []string{ev.QID, ev.NewQID} {
			if q != "" && !strings.Contains(line, SpoolID(q)) {
				t.Fatalf("queue id %q not in %q", q, line)
			}
		}
	})
}
