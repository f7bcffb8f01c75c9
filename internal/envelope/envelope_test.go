package envelope

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("zone %s not available: %v", name, err)
	}
	return loc
}

func TestParse(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return v.UTC()
	}
	tests := []struct {
		name, line string
		want       Envelope
	}{
		{"bsd", "Nov 27 05:39:22 mx1 postfix/submission/smtpd[18296]: 8A1A2B830F: client=x",
			Envelope{Time: utc("2026-11-27T05:39:22Z"), Format: BSD, Host: "mx1", Tag: "postfix/submission/smtpd", PID: 18296, Msg: "8A1A2B830F: client=x", Repeat: 1}},
		{"bsd space-padded day", "Aug  4 01:02:03 h postfix/qmgr[1]: x",
			Envelope{Time: utc("2026-08-04T01:02:03Z"), Format: BSD, Host: "h", Tag: "postfix/qmgr", PID: 1, Msg: "x", Repeat: 1}},
		{"bsd unpadded day", "Aug 3 01:02:03 h postfix/qmgr[1]: x",
			Envelope{Time: utc("2026-08-03T01:02:03Z"), Format: BSD, Host: "h", Tag: "postfix/qmgr", PID: 1, Msg: "x", Repeat: 1}},
		{"bsd crlf", "Aug 3 01:02:03 h postfix/qmgr[1]: x\r\n",
			Envelope{Time: utc("2026-08-03T01:02:03Z"), Format: BSD, Host: "h", Tag: "postfix/qmgr", PID: 1, Msg: "x", Repeat: 1}},
		{"bsd with priority", "<22>Nov 27 05:39:22 mx1 postfix/smtpd[7]: hi",
			Envelope{Time: utc("2026-11-27T05:39:22Z"), Format: BSD, Host: "mx1", Tag: "postfix/smtpd", PID: 7, Msg: "hi", Repeat: 1}},
		{"bsd tag without pid", "Nov 27 05:39:22 mx1 dovecot: auth: Info: x",
			Envelope{Time: utc("2026-11-27T05:39:22Z"), Format: BSD, Host: "mx1", Tag: "dovecot", Msg: "auth: Info: x", Repeat: 1}},
		{"bsd hostless dovecot", "Nov 27 05:39:22 imap-login: Info: Login: user=<a>",
			Envelope{Time: utc("2026-11-27T05:39:22Z"), Format: BSD, Tag: "dovecot", Msg: "imap-login: Info: Login: user=<a>", Repeat: 1}},
		{"rfc3339 fraction and offset", "2024-04-09T20:22:42.548478+03:00 mail postfix/smtpd[5]: m",
			Envelope{Time: utc("2024-04-09T17:22:42.548478Z"), YearKnown: true, Format: RFC3339, Host: "mail", Tag: "postfix/smtpd", PID: 5, Msg: "m", Repeat: 1}},
		{"short-iso", "2026-11-27T05:39:22+0100 host postfix/smtpd[123]: m",
			Envelope{Time: utc("2026-11-27T04:39:22Z"), YearKnown: true, Format: RFC3339, Host: "host", Tag: "postfix/smtpd", PID: 123, Msg: "m", Repeat: 1}},
		{"rfc3339 Z", "2026-11-27T05:39:22Z host postfix/smtpd[123]: m",
			Envelope{Time: utc("2026-11-27T05:39:22Z"), YearKnown: true, Format: RFC3339, Host: "host", Tag: "postfix/smtpd", PID: 123, Msg: "m", Repeat: 1}},
		{"rfc5424", "<22>1 2026-11-27T05:39:22.123456+00:00 mx1 postfix/smtpd 18296 - - 8A1A2B830F: client=x",
			Envelope{Time: utc("2026-11-27T05:39:22.123456Z"), YearKnown: true, Format: RFC5424, Host: "mx1", Tag: "postfix/smtpd", PID: 18296, Msg: "8A1A2B830F: client=x", Repeat: 1}},
		{"rfc5424 structured data", `<22>1 2026-11-27T05:39:22Z mx1 postfix/smtpd - ID47 [a b="c\]d"][x y="z"] hello`,
			Envelope{Time: utc("2026-11-27T05:39:22Z"), YearKnown: true, Format: RFC5424, Host: "mx1", Tag: "postfix/smtpd", Msg: "hello", Repeat: 1}},
		{"dovecot own format", "2013-08-11 03:56:40 auth-worker(default): Info: pam(u,1.2.3.4): x",
			Envelope{Time: utc("2013-08-11T03:56:40Z"), YearKnown: true, Format: DovecotLog, Tag: "dovecot", Msg: "auth-worker(default): Info: pam(u,1.2.3.4): x", Repeat: 1}},
		{"message repeated", "Nov 27 05:39:22 mx1 postfix/smtpd[9]: message repeated 3 times: [ warning: hostname x does not resolve]",
			Envelope{Time: utc("2026-11-27T05:39:22Z"), Format: BSD, Host: "mx1", Tag: "postfix/smtpd", PID: 9, Msg: "warning: hostname x does not resolve", Repeat: 3}},
		{"journal", `{"__REALTIME_TIMESTAMP":"1795671562000000","MESSAGE":"8A1A2B830F: removed","SYSLOG_IDENTIFIER":"postfix/qmgr","_PID":"42","_HOSTNAME":"mx1","_COMM":"qmgr","_UID":"107","_EXE":"/usr/lib/postfix/sbin/qmgr","_SYSTEMD_UNIT":"postfix@-.service","__CURSOR":"s=abc"}`,
			Envelope{Time: time.UnixMicro(1795671562000000).UTC(), YearKnown: true, Format: Journal, Host: "mx1", Tag: "postfix/qmgr", PID: 42, Msg: "8A1A2B830F: removed", Repeat: 1, Comm: "qmgr", UID: "107", Exe: "/usr/lib/postfix/sbin/qmgr", Unit: "postfix@-.service", Cursor: "s=abc"}},
		{"journal message as bytes", `{"__REALTIME_TIMESTAMP":"1795671562000000","MESSAGE":[104,105,255],"SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"7"}`,
			Envelope{Time: time.UnixMicro(1795671562000000).UTC(), YearKnown: true, Format: Journal, Tag: "postfix/smtpd", PID: 7, Msg: "hi\xff", Repeat: 1}},
		{"journal suppressed", `{"__REALTIME_TIMESTAMP":"1795671562000000","MESSAGE":"Suppressed 1234 messages from postfix@-.service","SYSLOG_IDENTIFIER":"systemd-journald"}`,
			Envelope{Time: time.UnixMicro(1795671562000000).UTC(), YearKnown: true, Format: Journal, Tag: "systemd-journald", Msg: "Suppressed 1234 messages from postfix@-.service", Repeat: 1, Suppressed: 1234}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Year: 2026, Loc: time.UTC}
			got, err := p.Parse(tt.line)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, line := range []string{
		"", "hello world", "Foo 27 05:39:22 mx1 x: y", "Nov 32 05:39:22 mx1 x: y", "Nov 27 25:39:22 mx1 x: y",
		"Feb 30 05:39:22 mx1 x: y", "Apr 31 05:39:22 mx1 x: y", "Nov 27 05:39:22", "Nov 27 05:39:22 mx1", "Nov 27 05:39:22 mx1 tag-without-colon",
		"2026-13-01T00:00:00Z h t: m", "2026-11-27T05:39:22 h t: m", "{not json", `{"MESSAGE":"x"}`,
		"<22>1 - h app - - - msg", "<999999>Nov 27 05:39:22 h t: m", "Nov 27 05:39:22 mx1 tag[12: x",
	} {
		p := Parser{Year: 2026, Loc: time.UTC}
		if e, err := p.Parse(line); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", line, e)
		}
	}
}

// TestMonthLengths: a classic stamp's day must exist in its month; Feb 29
// does (the year is not known while the line is parsed).
func TestMonthLengths(t *testing.T) {
	p := Parser{Year: 2028, Loc: time.UTC}
	for _, line := range []string{"Feb 29 05:39:22 mx1 x: y", "Apr 30 05:39:22 mx1 x: y", "Dec 31 23:59:59 mx1 x: y"} {
		if _, err := p.Parse(line); err != nil {
			t.Errorf("Parse(%q): %v", line, err)
		}
	}
}

func TestLocalZoneAndDST(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	p := Parser{Year: 2026, Loc: berlin}
	// winter: UTC+1; summer: UTC+2
	for line, want := range map[string]string{
		"Jan 10 12:00:00 h t[1]: m": "2026-01-10T11:00:00Z",
		"Jul 10 12:00:00 h t[1]: m": "2026-07-10T10:00:00Z",
		// the repeated hour at the end of DST (Oct 25 2026, 02:00-03:00 twice) is read, not rejected
		"Oct 25 02:30:00 h t[1]: m": "",
	} {
		e, err := p.Parse(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if want == "" {
			if e.Time.IsZero() {
				t.Errorf("%q: zero time", line)
			}
			continue
		}
		if got := e.Time.Format(time.RFC3339); got != want {
			t.Errorf("%q: got %s want %s", line, got, want)
		}
	}
	// the cache must not carry one line's hour into another's
	a, _ := p.Parse("Jan 10 12:59:59 h t[1]: m")
	b, _ := p.Parse("Jan 10 13:00:00 h t[1]: m")
	if b.Time.Sub(a.Time) != time.Second {
		t.Errorf("hour boundary: %v then %v", a.Time, b.Time)
	}
}

func TestLongLineAndInvalidUTF8(t *testing.T) {
	long := "Nov 27 05:39:22 mx1 postfix/smtpd[1]: " + strings.Repeat("x\xff", 100000)
	p := Parser{Year: 2026, Loc: time.UTC}
	e, err := p.Parse(long)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Msg) != 200000 {
		t.Errorf("msg length %d", len(e.Msg))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Nov 27 05:39:22 mx1 postfix/submission/smtpd[18296]: 8A1A2B830F: client=x",
		"2024-04-09T20:22:42.548478+03:00 mail postfix/smtpd[5]: m",
		"<22>1 2026-11-27T05:39:22.123456+00:00 mx1 postfix/smtpd 18296 - [a b=\"c\"] m",
		`{"__REALTIME_TIMESTAMP":"1795671562000000","MESSAGE":[104,105],"SYSLOG_IDENTIFIER":"postfix/smtpd"}`,
		"2013-08-11 03:56:40 auth-worker(default): Info: x",
		"Nov 27 05:39:22 h t[1]: message repeated 2 times: [ x]",
		"mailserver  | Mar  4 02:04:21 mail postfix/smtpd[12]: m",
		"mailserver-1  | 2026-03-04T02:04:21.123456789Z Mar  4 02:04:21 mail postfix/smtpd[12]: m",
		"2026-03-04T02:04:21.123456789Z Mar  4 02:04:21 mail postfix/smtpd[12]: m",
		"2026-03-04T02:04:21.12345Z postfix/smtpd[12]: m",
		"2026-03-04T02:04:21.123456789Z 2026-03-04T03:04:21+01:00 mail postfix/smtpd[12]: m",
		"2026-03-04T02:04:21Z 2026-03-04 03:04:21 auth: Info: m",
		"\x1b[36mmailserver-1  |\x1b[0m 2026-03-04T02:04:21Z mail postfix/smtpd[12]: m",
		"web | 10.0.0.1 - - [04/Mar/2026:02:04:21 +0000] \"GET / HTTP/1.1\" 200",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p := Parser{Year: 2026, Loc: time.UTC}
		e, err := p.Parse(line)
		if err != nil {
			return
		}
		if e.Repeat < 1 {
			t.Fatalf("repeat %d", e.Repeat)
		}
		if e.Format != Journal && !strings.Contains(line, e.Msg) {
			t.Fatalf("message %q is not part of the line %q", e.Msg, line)
		}
		// parsing again gives the same envelope
		e2, err := p.Parse(line)
		if err != nil || e2 != e {
			t.Fatalf("not stable: %+v / %+v (%v)", e, e2, err)
		}
	})
}

// TestContainerPrefixes: the prefixes container logs put before a line are
// read: docker compose's service name, the RFC 3339 stamp of docker logs -t
// and kubectl logs --timestamps (whose time, with its year, is taken), both,
// and a stamp before a daemon's own line with no syslog header.
func TestContainerPrefixes(t *testing.T) {
	stamp := time.Date(2026, 3, 4, 2, 4, 21, 123456789, time.UTC)
	bsd := time.Date(2026, 3, 4, 2, 4, 21, 0, time.UTC)
	const msg = "4Q1ZxK3mNbz9sWq: client=unknown[185.167.232.210]:51234, sasl_method=LOGIN, sasl_username=dmartinez@corp.example"
	for _, c := range []struct {
		name, line string
		at         time.Time
		yearKnown  bool
		host       string
		container  string
	}{
		{"compose", "mailserver  | Mar  4 02:04:21 mail postfix/smtpd[12]: " + msg, bsd, false, "mail", "compose"},
		{"compose v2", "mailserver-1  | Mar  4 02:04:21 mail postfix/smtpd[12]: " + msg, bsd, false, "mail", "compose"},
		{"compose, a name like a month", "Mar-mail | Mar  4 02:04:21 mail postfix/smtpd[12]: " + msg, bsd, false, "mail", "compose"},
		{"compose in colour", "\x1b[36mmailserver-1  |\x1b[0m Mar  4 02:04:21 mail postfix/smtpd[12]: " + msg, bsd, false, "mail", "compose"},
		{"docker logs -t", "2026-03-04T02:04:21.123456789Z Mar  4 02:04:21 mail postfix/smtpd[12]: " + msg, stamp, true, "mail", "stamp"},
		{"kubectl --timestamps", "2026-03-04T02:04:21.123456789Z Mar 4 02:04:21 mail postfix/smtpd[12]: " + msg, stamp, true, "mail", "stamp"},
		{"stamp before RFC 3339", "2026-03-04T02:04:21.123456789Z 2026-03-04T03:04:21.5+01:00 mail postfix/smtpd[12]: " + msg, stamp, true, "mail", "stamp"},
		{"compose and docker -t", "mailserver-1  | 2026-03-04T02:04:21.123456789Z Mar  4 02:04:21 mail postfix/smtpd[12]: " + msg, stamp, true, "mail", "compose+stamp"},
		{"no syslog header", "2026-03-04T02:04:21.123456789Z postfix/smtpd[12]: " + msg, stamp, true, "", ""},
		{"host, no stamp", "2026-03-04T02:04:21.123456789Z mail postfix/smtpd[12]: " + msg, stamp, true, "mail", ""},
		{"compose, no syslog header", "mailserver  | 2026-03-04T02:04:21.123456789Z postfix/smtpd[12]: " + msg, stamp, true, "", "compose"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Parser{Year: 2026, Loc: time.UTC}
			e, err := p.Parse(c.line)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Time.Equal(c.at) || e.YearKnown != c.yearKnown || e.Host != c.host || e.Tag != "postfix/smtpd" ||
				e.PID != 12 || e.Msg != msg || e.Container != c.container {
				t.Errorf("got time %v (year known %v) host %q tag %q pid %d container %q msg %q", e.Time, e.YearKnown, e.Host, e.Tag, e.PID, e.Container, e.Msg)
			}
		})
	}
	for _, line := range []string{
		"web | 10.0.0.1 - - [04/Mar/2026:02:04:21 +0000] \"GET / HTTP/1.1\" 200",
		"mailserver  |Mar  4 02:04:21 mail postfix/smtpd[12]: m",
		"mail server | Mar  4 02:04:21 mail postfix/smtpd[12]: m",
		"| Mar  4 02:04:21 mail postfix/smtpd[12]: m",
		"mailserver  | ",
	} {
		p := Parser{Year: 2026, Loc: time.UTC}
		if e, err := p.Parse(line); err == nil {
			t.Errorf("%q read as %+v", line, e)
		}
	}
}
