package dovecotlog

import (
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/event"
)

func TestParse(t *testing.T) {
	tests := []struct {
		tag, msg           string
		kind               event.Kind
		login, ip, service string
		attempts           int
	}{
		{"dovecot", "auth: Info: passwd-file(alice@lab.test,127.0.0.99): Password mismatch", event.AuthFailure, "alice@lab.test", "127.0.0.99", "auth", 0},
		{"dovecot", "auth: passwd-file(karen@co.uk,192.168.1.1,<sess>): unknown user (SHA1 of given password: 21bd12)", event.AuthFailure, "karen@co.uk", "192.168.1.1", "auth", 0},
		{"dovecot", "auth-worker(14877): conn unix:auth-worker (pid=14830,uid=109): auth-worker<4>: pam(a@b.c,2.2.2.2): pam_authenticate() failed: Authentication failure", event.AuthFailure, "a@b.c", "2.2.2.2", "auth", 0},
		{"dovecot", "auth-worker(1): pam(we,ird,1.1.1.1): unknown user", event.AuthFailure, "we,ird", "1.1.1.1", "auth", 0},
		{"dovecot", "imap-login: Login: user=<u@x>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8, mpid=1, TLS, session=<a>", event.Login, "u@x", "1.2.3.4", "imap", 0},
		{"dovecot", "pop3-login: Info: Disconnected (auth failed, 3 attempts in 15 secs): user=<u>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8", event.AuthFailure, "u", "1.2.3.4", "pop3", 3},
		{"dovecot", "imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 16 secs) (auth_failed): user=<info@e.com>, method=PLAIN, rip=192.0.2.110, lip=0.0.0.0, TLS", event.AuthFailure, "info@e.com", "192.0.2.110", "imap", 3},
		{"dovecot", "imap(u)<1><a>: Disconnected: Logged out in=1 out=2", event.Ignored, "", "", "", 0},
		{"dovecot", "auth: Error: something else", event.Ignored, "", "", "", 0},
	}
	for _, tt := range tests {
		var ev event.Event
		if !Parse(tt.tag, tt.msg, &ev) {
			t.Errorf("Parse(%q) = false", tt.msg)
			continue
		}
		if ev.Kind != tt.kind || ev.Login != tt.login || ev.ClientIP != tt.ip || ev.Service != tt.service || ev.AuthTotal != tt.attempts {
			t.Errorf("Parse(%q) = kind %v login %q ip %q service %q attempts %d", tt.msg, ev.Kind, ev.Login, ev.ClientIP, ev.Service, ev.AuthTotal)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("dovecot", "auth: Info: passwd-file(alice@lab.test,127.0.0.99): Password mismatch")
	f.Add("dovecot", "imap-login: Login: user=<u@x>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8")
	f.Add("imap-login", "Disconnected (auth failed, 3 attempts in 15 secs): user=<u>, rip=1.2.3.4")
	f.Fuzz(func(t *testing.T, tag, msg string) {
		var ev event.Event
		if !Parse(tag, msg, &ev) {
			return
		}
		for _, s := range []string{ev.Login, ev.ClientIP, ev.Method} {
			if !strings.Contains(msg, s) {
				t.Fatalf("field %q not in %q", s, msg)
			}
		}
	})
}
