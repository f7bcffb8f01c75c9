package postfixlog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/saslguard/saslguard/internal/event"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, daemon, msg string
		want              event.Event
	}{
		{"login", "smtpd", "8A1A2B830F: client=unknown[127.0.0.66], sasl_method=PLAIN, sasl_username=alice@lab.test",
			event.Event{Kind: event.Client, QID: "8A1A2B830F", ClientName: "unknown", ClientIP: "127.0.0.66", Method: "PLAIN", Login: "alice@lab.test"}},
		{"login with port and sasl_sender", "smtpd", "4PbC4x469Jz3tBr: client=mail.example[192.0.2.237]:55729, sasl_method=LOGIN, sasl_username=bob, sasl_sender=x@y",
			event.Event{Kind: event.Client, QID: "4PbC4x469Jz3tBr", ClientName: "mail.example", ClientIP: "192.0.2.237", Method: "LOGIN", Login: "bob"}},
		{"login name with comma and space", "smtpd", "8A1A2B830F: client=unknown[2001:db8::1], sasl_method=PLAIN, sasl_username=evil, name=x",
			event.Event{Kind: event.Client, QID: "8A1A2B830F", ClientName: "unknown", ClientIP: "2001:db8::1", Method: "PLAIN", Login: "evil, name=x"}},
		{"unauthenticated", "smtpd", "8A1A2B830F: client=mx.google.com[209.85.167.47]",
			event.Event{Kind: event.Client, QID: "8A1A2B830F", ClientName: "mx.google.com", ClientIP: "209.85.167.47"}},
		{"orig_queue_id", "smtpd", "8A1A2B830F: client=localhost[127.0.0.1], orig_queue_id=1234ABCDEF, orig_client=unknown[1.2.3.4]",
			event.Event{Kind: event.Client, QID: "8A1A2B830F", ClientName: "localhost", ClientIP: "127.0.0.1", OrigQID: "1234ABCDEF"}},
		{"auth failure new", "smtpd", "warning: unknown[127.0.0.99]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=alice@lab.test",
			event.Event{Kind: event.AuthFailure, ClientName: "unknown", ClientIP: "127.0.0.99", Method: "PLAIN", Login: "alice@lab.test"}},
		{"auth failure old", "smtpd", "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
			event.Event{Kind: event.AuthFailure, ClientName: "unknown", ClientIP: "192.0.2.1", Method: "LOGIN"}},
		{"auth failure unavailable", "smtpd", "warning: unknown[192.0.2.1]:4455: SASL LOGIN authentication failed: authentication failure, sasl_username=(unavailable)",
			event.Event{Kind: event.AuthFailure, ClientName: "unknown", ClientIP: "192.0.2.1", Method: "LOGIN"}},
		{"qmgr from", "qmgr", "8A1A2B830F: from=<support@promo-782-1.example.net>, size=439, nrcpt=1 (queue active)",
			event.Event{Kind: event.From, QID: "8A1A2B830F", Sender: "support@promo-782-1.example.net", Size: 439, Nrcpt: 1}},
		{"null sender", "qmgr", "8A1A2B830F: from=<>, size=2439, nrcpt=1 (queue active)",
			event.Event{Kind: event.From, QID: "8A1A2B830F", Size: 2439, Nrcpt: 1}},
		{"expired", "qmgr", "8A1A2B830F: from=<a@b>, status=expired, returned to sender",
			event.Event{Kind: event.Expired, QID: "8A1A2B830F", Sender: "a@b", Status: "expired"}},
		{"removed", "qmgr", "8A1A2B830F: removed", event.Event{Kind: event.Removed, QID: "8A1A2B830F"}},
		{"deferred", "smtp", "8A1A2B830F: to=<user1@example.org>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:10026: Connection refused)",
			event.Event{Kind: event.Delivery, QID: "8A1A2B830F", Recipient: "user1@example.org", Relay: "none", DSN: "4.4.1", Status: "deferred", Reply: "connect to 127.0.0.1[127.0.0.1]:10026: Connection refused"}},
		{"sent via filter", "smtp", "8A1A2B830F: to=<a@b.example>, orig_to=<c@d>, relay=127.0.0.1[127.0.0.1]:10025, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4D3F2E1A0B)",
			event.Event{Kind: event.Delivery, QID: "8A1A2B830F", Recipient: "a@b.example", Relay: "127.0.0.1[127.0.0.1]:10025", DSN: "2.0.0", Status: "sent", Reply: "250 2.0.0 Ok: queued as 4D3F2E1A0B", NewQID: "4D3F2E1A0B"}},
		{"bounced spam", "smtp", "8A1A2B830F: to=<x@gmail.com>, relay=gmail-smtp-in.l.google.com[1.2.3.4]:25, delay=1, delays=0/0/0/1, dsn=5.7.1, status=bounced (host gmail-smtp-in.l.google.com[1.2.3.4] said: 550 5.7.1 spam (in reply to end of DATA command))",
			event.Event{Kind: event.Delivery, QID: "8A1A2B830F", Recipient: "x@gmail.com", Relay: "gmail-smtp-in.l.google.com[1.2.3.4]:25", DSN: "5.7.1", Status: "bounced", Reply: "host gmail-smtp-in.l.google.com[1.2.3.4] said: 550 5.7.1 spam (in reply to end of DATA command)"}},
		{"ndr", "bounce", "8A1A2B830F: sender non-delivery notification: 9B2B3C4D5E",
			event.Event{Kind: event.Notify, QID: "8A1A2B830F", NewQID: "9B2B3C4D5E"}},
		{"pickup", "pickup", "8A1A2B830F: uid=0 from=<root@host>",
			event.Event{Kind: event.Pickup, QID: "8A1A2B830F", Sender: "root@host"}},
		{"pickup requeued", "pickup", "8A1A2B830F: uid=0 from=<a@b> orig_id=1234ABCDEF",
			event.Event{Kind: event.Pickup, QID: "8A1A2B830F", Sender: "a@b", OrigQID: "1234ABCDEF"}},
		{"message-id", "cleanup", "8A1A2B830F: message-id=<20261127053922.018481@vm>",
			event.Event{Kind: event.MessageID, QID: "8A1A2B830F", MessageID: "20261127053922.018481@vm"}},
		{"noqueue reject", "smtpd", "NOQUEUE: reject: RCPT from unknown[127.0.0.66]: 554 5.7.1 <alice@lab.test>: SASL login name rejected: blocked; from=<x@y.example> to=<z@w.example> proto=ESMTP helo=<h>",
			event.Event{Kind: event.Reject, ClientName: "unknown", ClientIP: "127.0.0.66", Sender: "x@y.example", Recipient: "z@w.example", Reply: "554 5.7.1 <alice@lab.test>: SASL login name rejected: blocked", DSN: "5.7.1"}},
		{"disconnect", "smtpd", "disconnect from unknown[127.0.0.66] ehlo=1 auth=0/1 mail=1 rcpt=1 data=1 quit=1 commands=5/6",
			event.Event{Kind: event.Disconnect, ClientName: "unknown", ClientIP: "127.0.0.66", AuthOK: 0, AuthTotal: 1}},
		{"hold", "postsuper", "8A1A2B830F: placed on hold", event.Event{Kind: event.Hold, QID: "8A1A2B830F"}},
		{"released", "postsuper", "8A1A2B830F: released from hold", event.Event{Kind: event.Release, QID: "8A1A2B830F"}},
		{"connect ignored", "smtpd", "connect from unknown[127.0.0.66]", event.Event{Kind: event.Ignored}},
		{"bulk postsuper", "postsuper", "Deleted: 2 messages", event.Event{Kind: event.Ignored}},
		{"verbose", "qmgr", "name_mask: all", event.Event{Kind: event.Ignored}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev event.Event
			if !Parse(tt.daemon, tt.msg, &ev) {
				t.Fatalf("Parse(%q, %q) = false", tt.daemon, tt.msg)
			}
			tt.want.Source = event.Postfix
			if diff := cmp.Diff(tt.want, ev); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.msg, diff)
			}
		})
	}
}

func TestNotUnderstood(t *testing.T) {
	for _, tc := range []struct{ daemon, msg string }{
		{"smtpd", "8A1A2B830F: client=no brackets here, sasl_username=x"},
		{"smtp", "8A1A2B830F: to=<broken"},
		{"qmgr", "8A1A2B830F: removedo from=<x>"},
	} {
		var ev event.Event
		if Parse(tc.daemon, tc.msg, &ev) {
			t.Errorf("Parse(%q) = true (%v), want false", tc.msg, ev.Kind)
		}
	}
}

func TestDaemonAndService(t *testing.T) {
	for tag, want := range map[string][2]string{
		"postfix/submission/smtpd":       {"smtpd", "submission"},
		"postfix/smtps/smtpd":            {"smtpd", "smtps"},
		"postfix-out/qmgr":               {"qmgr", ""},
		"postfix/sender-cleanup/cleanup": {"cleanup", "sender-cleanup"},
		"postfix-170.55.103.23/smtpd":    {"smtpd", ""},
		"postfix":                        {"", ""},
		"dovecot":                        {"", ""},
		"postfix/10025/smtpd":            {"smtpd", "10025"},
		"mailout/smtp":                   {"smtp", ""},
		"postfix/policyd-spf":            {"", ""},
	} {
		if d := Daemon(tag); d != want[0] {
			t.Errorf("Daemon(%q) = %q, want %q", tag, d, want[0])
		}
		if want[0] != "" {
			if s := Service(tag); s != want[1] {
				t.Errorf("Service(%q) = %q, want %q", tag, s, want[1])
			}
		}
	}
}

func TestValidQID(t *testing.T) {
	for s, want := range map[string]bool{
		"8A1A2B830F": true, "4PbC4x469Jz3tBr": true, "19D5A49CF3": true,
		"Deleted": false, "warning": false, "NOQUEUE": false, "8A1A-2B": false, "": false,
		"8A1A2B830F\n": false, "ABC": false,
		"4jbZ9q5z6cz1SPd3": true, "4PbC4x469Jz3tBrQwXyZ9": true, "4PbC4x469Jz3tBrQwXyZ9bcd": false,
		"8A1A2B830F0123456789A": true, "8A1A2B830F0123456789AB": false,
	} {
		if got := ValidQID(s); got != want {
			t.Errorf("ValidQID(%q) = %v", s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"8A1A2B830F: client=unknown[127.0.0.66], sasl_method=PLAIN, sasl_username=alice@lab.test",
		"warning: unknown[127.0.0.99]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=a",
		"8A1A2B830F: to=<a@b>, relay=x[1.2.3.4]:25, delay=1, dsn=2.0.0, status=sent (250 ok: queued as 4D3F2E1A0B)",
		"NOQUEUE: reject: RCPT from unknown[1.2.3.4]: 554 5.7.1 <x>: no; from=<a> to=<b> proto=ESMTP",
		"8A1A2B830F: from=<>, size=1, nrcpt=1 (queue active)",
		"disconnect from unknown[1.2.3.4] auth=0/1",
		"8A1A2B830F: uid=0 from=<a> orig_id=1234ABCDEF",
	} {
		for _, d := range []string{"smtpd", "qmgr", "smtp", "pickup", "bounce", "cleanup"} {
			f.Add(d, s)
		}
	}
	f.Fuzz(func(t *testing.T, daemon, msg string) {
		var ev event.Event
		if !Parse(daemon, msg, &ev) {
			return
		}
		for _, s := range []string{ev.QID, ev.Login, ev.ClientIP, ev.ClientName, ev.Sender, ev.Recipient, ev.Relay, ev.Reply, ev.NewQID, ev.OrigQID, ev.MessageID, ev.Method} {
			if !strings.Contains(msg, s) {
				t.Fatalf("field %q is not part of %q", s, msg)
			}
		}
		if ev.QID != "" && !ValidQID(ev.QID) {
			t.Fatalf("queue id %q", ev.QID)
		}
	})
}
