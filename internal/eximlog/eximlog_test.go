package eximlog

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/saslguard/saslguard/internal/event"
)

var at = time.Date(2026, 3, 4, 2, 4, 21, 0, time.UTC)

func TestParseNative(t *testing.T) {
	tests := []struct {
		name, line, prog string
		want             event.Event
	}{
		{"arrival with login", "2026-03-04 02:04:21 1xWoo6-0000l6-0p <= sales@promo1.example H=(ylmf-pc) [127.0.0.66]:46071 P=esmtpa A=PLAIN:alice@lab.test S=469 id=x@y",
			progArrival, event.Event{Kind: event.Arrival, QID: "1xWoo6-0000l6-0p", Sender: "sales@promo1.example", ClientIP: "127.0.0.66", Method: "PLAIN", Login: "alice@lab.test", Size: 469, MessageID: "x@y"}},
		{"arrival name helo port interface tls subject recipients", `2026-03-04 02:04:21 1gsu1C-003dCu-Hb <= aaron@domain.com H=localhost (10.5.40.204) [127.0.0.1]:39753 I=[127.0.0.1]:25 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:aaron@domain.com S=4315 M8S=0 id=d2b6@domain.com T="what's \"up\" for A=plain:ceo" from <aaron@domain.com> for a@b.example "c d"@e.example`,
			progArrival, event.Event{Kind: event.Arrival, QID: "1gsu1C-003dCu-Hb", Sender: "aaron@domain.com", ClientName: "localhost", ClientIP: "127.0.0.1", Method: "dovecot_plain", Login: "aaron@domain.com", Size: 4315, MessageID: "d2b6@domain.com", Nrcpt: 2}},
		{"23-character id", "2026-03-04 02:04:21 10HmaX-000000005vi-0000 <= u@x H=[192.0.2.1] P=esmtpsa A=login:u S=1",
			progArrival, event.Event{Kind: event.Arrival, QID: "10HmaX000000005vi0000", Sender: "u@x", ClientIP: "192.0.2.1", Method: "login", Login: "u", Size: 1}},
		{"smtp_mailauth sender after the id", "2026-03-04 02:04:21 10HmaX-000000005vi-0000 <= u@x H=h [5.6.7.8] U=ident P=esmtpa A=authname:authid:as@x.example S=9",
			progArrival, event.Event{Kind: event.Arrival, QID: "10HmaX000000005vi0000", Sender: "u@x", ClientName: "h", ClientIP: "5.6.7.8", Method: "authname", Login: "authid", Size: 9}},
		{"authenticated without set_id", "2026-03-04 02:04:21 10HmaZ-000000005vi-0000 <= userx@cus.cam.ac.uk H=(testclient.ex) [10.0.0.3] U=CALLER P=esmtpa A=mylogin S=sss for userx8@test.ex",
			progArrival, event.Event{Kind: event.Arrival, QID: "10HmaZ000000005vi0000", Sender: "userx@cus.cam.ac.uk", ClientIP: "10.0.0.3", Method: "mylogin", Nrcpt: 1}},
		{"unauthenticated", "2026-03-04 02:04:21 1Ov4tU-0000Nz-Rm <= list@domain.com H=mailhost.domain.com [208.42.54.2]:51792 P=esmtps S=21778",
			progArrival, event.Event{Kind: event.Arrival, QID: "1Ov4tU-0000Nz-Rm", Sender: "list@domain.com", ClientName: "mailhost.domain.com", ClientIP: "208.42.54.2", Size: 21778}},
		{"local", "2026-03-04 02:04:21 1j1Z2g-00Faoy-Uh <= example@host.example U=example P=local S=5 T=\"x\" for admin@example.net",
			progArrival, event.Event{Kind: event.Arrival, QID: "1j1Z2g-00Faoy-Uh", Sender: "example@host.example", Size: 5, Nrcpt: 1}},
		{"bounce", "2026-03-04 02:04:21 10HmbC-000000005vi-0000 <= <> R=10HmbB-000000005vi-0000 U=EXIMUSER P=local S=sss",
			progArrival, event.Event{Kind: event.Notify, QID: "10HmbB000000005vi0000", NewQID: "10HmbC000000005vi0000"}},
		{"delivery remote", `2026-03-04 02:04:21 1xWoo6-0000l6-0p => x@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.1.27] X=TLS1.3:a:256 CV=yes C="250 2.0.0 OK 1 - gsmtp"`,
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "x@gmail.com", Status: "sent", Relay: "gmail-smtp-in.l.google.com [142.250.1.27]", Reply: "250 2.0.0 OK 1 - gsmtp"}},
		{"delivery local", "2026-03-04 02:04:21 1xWoo6-0000l6-0p => userx6 <userx6@test.ex> R=localuser T=appendfile",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "userx6@test.ex", Status: "sent", Relay: "local"}},
		{"delivery to exim on loopback", `2026-03-04 02:04:21 10HmaX-000000005vi-0000 => x@y R=r1 T=t1 H=127.0.0.1 [127.0.0.1] A=spa:user C="250 OK id=10HmaY-000000005vi-0000"`,
			progDelivery, event.Event{Kind: event.Delivery, QID: "10HmaX000000005vi0000", Recipient: "x@y", Status: "sent", Relay: "127.0.0.1 [127.0.0.1]", Reply: "250 OK id=10HmaY-000000005vi-0000", NewQID: "10HmaY000000005vi0000"}},
		{"failure spam", "2026-03-04 02:04:21 1xWoo6-0000l6-0p ** x@y.example R=dnslookup T=remote_smtp H=mx.y.example [192.0.2.9]:25 X=TLS1.3:a:256 CV=yes: SMTP error from remote mail server after RCPT TO:<x@y.example>: 550 5.7.1 Message rejected as spam",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "x@y.example", Status: "bounced", Relay: "mx.y.example [192.0.2.9]", Reply: "550 5.7.1 Message rejected as spam", DSN: "5.7.1"}},
		{"failure own words", "2026-03-04 02:04:21 1xWoo6-0000l6-0p ** CALLER@myhost.test.ex : Unrouteable address",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "CALLER@myhost.test.ex", Status: "bounced", Relay: "none", Reply: "Unrouteable address"}},
		{"failure colon after address", "2026-03-04 02:04:21 1xWoo6-0000l6-0p ** userx@domain.com: retry timeout exceeded",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "userx@domain.com", Status: "bounced", Relay: "none", Reply: "retry timeout exceeded"}},
		{"failure after router", "2026-03-04 02:04:21 1xWoo6-0000l6-0p ** admin@example.net R=virtual_aliases: No such person at this address.",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "admin@example.net", Status: "bounced", Relay: "none", Reply: "No such person at this address."}},
		{"deferral", "2026-03-04 02:04:21 1xWoo6-0000l6-0p == x@y R=dnslookup T=remote_smtp defer (-45) H=mx.y [192.0.2.9]: SMTP error from remote mail server after RCPT TO:<x@y>: 451 4.7.1 listed at a blocklist",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "x@y", Status: "deferred", Relay: "mx.y [192.0.2.9]", Reply: "451 4.7.1 listed at a blocklist", DSN: "4.7.1"}},
		{"deferral before connecting", "2026-03-04 02:04:21 1xWoo6-0000l6-0p == userx@authdomain.com R=force T=smtp_force defer (-42): authentication required but server did not advertise AUTH support",
			progDelivery, event.Event{Kind: event.Delivery, QID: "1xWoo6-0000l6-0p", Recipient: "userx@authdomain.com", Status: "deferred", Relay: "none", Reply: "authentication required but server did not advertise AUTH support"}},
		{"completed", "2026-03-04 02:04:21 1xWoo6-0000l6-0p Completed", progMessage, event.Event{Kind: event.Removed, QID: "1xWoo6-0000l6-0p"}},
		{"frozen", "2026-03-04 02:04:21 1xWoo6-0000l6-0p Frozen (delivery error message)", progMessage, event.Event{Kind: event.Hold, QID: "1xWoo6-0000l6-0p"}},
		{"smarthost auth failure is ours, not a client's", "2026-03-04 02:04:21 10HmaZ-000000005vi-0000 plain authenticator failed H=127.0.0.1 [127.0.0.1] 535 Sorry, authentication failed",
			progMessage, event.Event{Kind: event.Ignored, QID: "10HmaZ000000005vi0000"}},
		{"auth failure", "2026-03-04 02:04:21 dovecot_login authenticator failed for (helo) [192.0.2.7]:51781: 535 Incorrect authentication data (set_id=alice@lab.test)",
			progAuth, event.Event{Kind: event.AuthFailure, Method: "dovecot_login", ClientIP: "192.0.2.7", Login: "alice@lab.test"}},
		{"auth failure H= U= and more after set_id", "2026-03-04 02:04:21 plain authenticator failed for H=(test.host) [10.0.0.1] U=CALLER: 535 Incorrect authentication data (set_id=eserx): more",
			progAuth, event.Event{Kind: event.AuthFailure, Method: "plain", ClientIP: "10.0.0.1", Login: "eserx"}},
		{"auth failure name helo interface", "2026-03-04 02:04:21 fixed_login authenticator failed for bad.host.example.com [192.0.2.2]:54412 I=[172.89.0.6]:587 Ci=30416: 535 Incorrect authentication data (set_id=user@example.com)",
			progAuth, event.Event{Kind: event.AuthFailure, Method: "fixed_login", ClientName: "bad.host.example.com", ClientIP: "192.0.2.2", Login: "user@example.com"}},
		{"auth failure without set_id", "2026-03-04 02:04:21 login authenticator failed for (ylmf-pc) [120.196.140.45]: 535 Incorrect authentication data: 1 Time(s)",
			progAuth, event.Event{Kind: event.AuthFailure, Method: "login", ClientIP: "120.196.140.45"}},
		{"set_id forging another", "2026-03-04 02:04:21 login authenticator failed for (x) [192.0.2.1]: 535 Incorrect authentication data (set_id=x) (set_id=ceo)",
			progAuth, event.Event{Kind: event.AuthFailure, Method: "login", ClientIP: "192.0.2.1", Login: "x) (set_id=ceo"}},
		{"temporary auth failure", "2026-03-04 02:04:21 defer authenticator failed for H=(test.host) [10.0.0.1] U=CALLER: 435 Unable to authenticate at present (set_id=userx): account suspended",
			progAuth, event.Event{Kind: event.Ignored}},
		{"reject without pid", "2026-03-04 02:04:21 H=(x) [192.0.2.1] F=<a@b> rejected RCPT <c@d>: relay not permitted", progReject, event.Event{Kind: event.Ignored}},
		{"reject with pid", "2026-03-04 02:04:21 [77] H=(x) [192.0.2.1]:4000 I=[1.2.3.4]:25 F=<a@b> A=plain:u rejected RCPT <c@d>: relay not permitted",
			progReject, event.Event{Kind: event.Reject, PID: 77, ClientIP: "192.0.2.1", Sender: "a@b", Method: "plain", Login: "u", Recipient: "c@d", Reply: "relay not permitted"}},
		{"connection", "2026-03-04 02:04:21 SMTP connection from [46.148.40.143]:59474 (TCP/IP connection count = 1)", progOther, event.Event{Kind: event.Ignored}},
		{"queue run", "2026-03-04 02:04:21 Start queue run: pid=22086", progOther, event.Event{Kind: event.Ignored}},
		{"other message line", "2026-03-04 02:04:21 1ahr79-0006jK-G9 SMTP connection from (v) [174.137.147.204]:44884 closed by DROP in ACL", progMessage, event.Event{Kind: event.Ignored, QID: "1ahr79-0006jK-G9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			var ev event.Event
			var fr Frame
			prog, st := p.ParseNative(tt.line, time.UTC, &ev, &fr)
			if st != Parsed || prog != tt.prog {
				t.Fatalf("ParseNative = %q, %d; want %q, parsed", prog, st, tt.prog)
			}
			tt.want.Time, tt.want.Program, tt.want.Source, tt.want.Count = at, "exim", event.Exim, 1
			if diff := cmp.Diff(tt.want, ev); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStamps(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		line string
		loc  *time.Location
		want time.Time
		pid  int
	}{
		{"2026-03-04 02:04:21 Start queue run: pid=1", time.UTC, at, 0},
		{"2026-03-04 02:04:21.345 Start queue run: pid=1", time.UTC, at.Add(345 * time.Millisecond), 0},
		{"2026-03-04 02:04:21 +0100 Start queue run: pid=1", time.UTC, at.Add(-time.Hour), 0},
		{"2026-03-04 02:04:21.007 -0130 [123] Start queue run: pid=1", time.UTC, at.Add(90*time.Minute + 7*time.Millisecond), 123},
		{"2026-03-04 02:04:21 [99] Start queue run: pid=1", berlin, at.Add(-time.Hour), 99},
	} {
		var p Parser
		var ev event.Event
		var fr Frame
		if _, st := p.ParseNative(tc.line, tc.loc, &ev, &fr); st != Parsed {
			t.Errorf("%q: not parsed", tc.line)
			continue
		}
		if !ev.Time.Equal(tc.want) || ev.PID != tc.pid {
			t.Errorf("%q: time %v pid %d, want %v %d", tc.line, ev.Time, ev.PID, tc.want, tc.pid)
		}
	}
}

func TestNotExim(t *testing.T) {
	// Dovecot's own log has Exim's stamp: its lines are not Exim's.
	for _, line := range []string{
		"2026-03-04 02:04:21 auth: Info: passwd-file(alice,1.2.3.4): Password mismatch",
		"2026-03-04 02:04:21 imap-login: Login: user=<a>, method=PLAIN, rip=1.2.3.4",
		"2026-13-04 02:04:21 1xWoo6-0000l6-0p Completed",
		"2026-03-04 02:04:21",
	} {
		var p Parser
		var ev event.Event
		var fr Frame
		if prog, st := p.ParseNative(line, time.UTC, &ev, &fr); st != NotExim {
			t.Errorf("%q read as %q %d", line, prog, st)
		}
	}
}

// TestForgedLogin: what a client chooses (sender, HELO, ident, certificate
// DN, message id, subject) cannot make an arrival name a login.
func TestForgedLogin(t *testing.T) {
	for _, line := range []string{
		`2026-03-04 02:04:21 1xWoo6-0000l6-0p <= "x P=esmtpa A=plain:ceo"@evil.example H=(pc) [192.0.2.1] P=esmtp S=1`,
		`2026-03-04 02:04:21 1xWoo6-0000l6-0p <= x@evil.example H=(pc) [192.0.2.1] P=esmtps X=TLS1.3:a:256 DN="CN=x" A=plain:ceo S=1`,
		`2026-03-04 02:04:21 1xWoo6-0000l6-0p <= x@evil.example H=(pc) [192.0.2.1] P=esmtp S=1 id="a A=plain:ceo"@x T="A=plain:ceo"`,
		`2026-03-04 02:04:21 1xWoo6-0000l6-0p <= x@evil.example H=(pc) [192.0.2.1] U=x P=esmtpa A=plain:ceo S=1 P=esmtp S=1`,
		`2026-03-04 02:04:21 1xWoo6-0000l6-0p <= x@evil.example H=(pc) P=esmtpa A=plain:ceo [6.6.6.6]) [192.0.2.1] P=esmtp S=1`,
	} {
		var p Parser
		var ev event.Event
		var fr Frame
		_, st := p.ParseNative(line, time.UTC, &ev, &fr)
		if ev.Login != "" && st == Parsed {
			t.Errorf("%s: read login %q", line, ev.Login)
		}
		if st == Parsed && ev.ClientIP == "6.6.6.6" {
			t.Errorf("%s: read the HELO's address", line)
		}
	}
}

func TestWrapped(t *testing.T) {
	var p Parser
	var ev event.Event
	ev.Time, ev.YearGuessed, ev.PID = time.Date(2000, 3, 4, 2, 4, 21, 0, time.UTC), true, 42
	prog, st := p.ParseWrapped("2026-03-04 02:04:21 1xWoo6-0000l6-0p <= a@b H=[192.0.2.1] P=esmtpsa A=x:u S=3", false, time.UTC, &ev)
	if st != Parsed || prog != progArrival || ev.Login != "u" || !ev.Time.Equal(at) || ev.YearGuessed || ev.PID != 42 {
		t.Errorf("%q %d %+v", prog, st, ev)
	}
	ev = event.Event{}
	prog, st = p.ParseWrapped("[7] dovecot_login authenticator failed for (x) [192.0.2.1]: 535 Incorrect authentication data (set_id=u)", true, time.UTC, &ev)
	if st != Parsed || prog != progAuth || ev.Login != "u" || ev.PID != 7 {
		t.Errorf("%q %d %+v", prog, st, ev)
	}
	ev = event.Event{}
	if _, st := p.ParseWrapped("1xWoo6-0000l6-0p <= a@b H=(pc [192.0.2.1] P=esmtpsa A=x:u S=1", true, time.UTC, &ev); st != Unparsed {
		t.Errorf("an arrival with a broken H= was read: %+v", ev)
	}
	ev = event.Event{}
	if _, st := p.ParseWrapped("something new about A=plain:u", true, time.UTC, &ev); st != Unparsed {
		t.Errorf("an unknown line with a login was not counted as unread")
	}
}

func TestLoose(t *testing.T) {
	var p Parser
	for _, tc := range []struct {
		line string
		st   Status
	}{
		{"Envelope-from: <a@b>", Parsed},
		{"P Received: from [192.0.2.1] (helo=x)", Parsed},
		{"\tby mx with esmtp", Parsed},
		{"  Subject: hello", Parsed},
		{"hello world", NotExim},
		{"mail.example.com exim[3751842]: 2021-07-17 23:20:49 plain_server authenticator failed for ([192.0.2.17]) [192.0.2.27]: 535 Incorrect authentication data", Parsed},
		{"2026-03-04 02:04:21 a new line with A=plain:u", Unparsed},
	} {
		var ev event.Event
		var fr Frame
		if _, st := p.Loose(tc.line, time.UTC, &ev, &fr); st != tc.st {
			t.Errorf("%q: status %d, want %d", tc.line, st, tc.st)
		}
	}
}

func TestIDs(t *testing.T) {
	for _, id := range []string{"1xWoo6-0000l6-0p", "10HmaX-000000005vi-0000"} {
		if !ValidID(id) || SpoolID(QID(id)) != id || len(QID(id)) > 21 {
			t.Errorf("%s: valid %v, QID %q, back %q", id, ValidID(id), QID(id), SpoolID(QID(id)))
		}
	}
	for _, id := range []string{"1xWoo6-0000l6-0", "1xWoo6_0000l6-0p", "10HmaX-000000005vi-000!", ""} {
		if ValidID(id) {
			t.Errorf("%q valid", id)
		}
	}
	// the arena never overwrites an id it gave out
	var p Parser
	seen := map[string]string{}
	for i := 0; i < 5000; i++ {
		id := "10HmaX-" + strings.Repeat("0", 7) + string(b62(i/3844)) + string(b62(i/62%62)) + string(b62(i%62)) + "0-0000"
		id = id[:18] + "-0000"
		q := p.qid(id)
		seen[q] = id
	}
	for q, id := range seen {
		if QID(id) != q {
			t.Fatalf("%s: %s", id, q)
		}
	}
}

func b62(i int) byte {
	const s = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	return s[i%62]
}
