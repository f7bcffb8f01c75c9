package logline_test

import (
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/logline"
)

// TestEximDispatch: Exim's own lines and syslog-wrapped ones go to eximlog,
// Dovecot's own log format (the same stamp) still to dovecotlog.
func TestEximDispatch(t *testing.T) {
	for _, tc := range []struct {
		line   string
		status logline.Status
		prog   string
		kind   event.Kind
		login  string
		guess  bool
	}{
		{"2026-03-04 02:04:21 1xWoo6-0000l6-0p <= a@b H=(x) [192.0.2.1]:1 P=esmtpsa A=dovecot_login:u@corp.example S=9", logline.Parsed, "exim/arrival", event.Arrival, "u@corp.example", false},
		{"Mar  4 02:04:21 mx exim4[77]: 1xWoo6-0000l6-0p <= a@b H=(x) [192.0.2.1]:1 P=esmtpsa A=plain_server:u S=9", logline.Parsed, "exim/arrival", event.Arrival, "u", true},
		{"Mar  4 02:04:21 mx exim[77]: 2026-03-04 02:04:21 dovecot_login authenticator failed for (x) [192.0.2.1]:5: 535 Incorrect authentication data (set_id=u)", logline.Parsed, "exim/auth", event.AuthFailure, "u", false},
		{"2026-03-04T02:04:21.5+01:00 mx exim[77]: 1xWoo6-0000l6-0p Completed", logline.Parsed, "exim/message", event.Removed, "", false},
		{"2026-03-04 02:04:21 auth: Info: passwd-file(u,192.0.2.1): Password mismatch", logline.Parsed, "dovecot", event.AuthFailure, "u", false},
		{"P Received: from x", logline.Parsed, "exim/header", event.Ignored, "", false},
		{"Mar  4 02:04:21 mx exim[77]: something new with A=plain:u", logline.Unparsed, "exim/other", event.None, "", true},
	} {
		p := logline.New(2026, time.UTC)
		var ev event.Event
		r := p.Parse(tc.line, &ev)
		if r.Status != tc.status || r.Program != tc.prog || ev.Kind != tc.kind || ev.Login != tc.login || ev.YearGuessed != tc.guess {
			t.Errorf("%q: %+v kind %s login %q guessed %v", tc.line, r, ev.Kind, ev.Login, ev.YearGuessed)
		}
		if r.Status == logline.Parsed && ev.Kind != event.Ignored && ev.Time.Year() != 2026 {
			t.Errorf("%q: time %v", tc.line, ev.Time)
		}
	}
}
