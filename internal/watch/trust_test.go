package watch

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/envelope"
)

// writer is the journal's trusted fields of the process that logs.
type writer struct{ uid, exe, unit, comm string }

var (
	postfixSmtpd = writer{"102", "/usr/lib/postfix/sbin/smtpd", "postfix@-.service", "smtpd"}
	postfixQmgr  = writer{"102", "/usr/lib/postfix/sbin/qmgr", "postfix@-.service", "qmgr"}
	// a local user's logger(1), or a program of theirs named smtpd
	userLogger = writer{"1000", "/usr/bin/logger", "session-3.scope", "logger"}
	userSmtpd  = writer{"1000", "/home/mallory/smtpd", "user@1000.service", "smtpd"}
)

// journalLine is one line of journalctl -o json.
func journalLine(t *testing.T, at time.Time, tag string, pid int, msg string, w writer) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{
		"__REALTIME_TIMESTAMP": fmt.Sprint(at.UnixMicro()), "MESSAGE": msg, "SYSLOG_IDENTIFIER": tag,
		"SYSLOG_PID": fmt.Sprint(pid), "_PID": fmt.Sprint(pid), "_HOSTNAME": "mx1",
		"_UID": w.uid, "_EXE": w.exe, "_SYSTEMD_UNIT": w.unit, "_COMM": w.comm,
		"__CURSOR": fmt.Sprintf("s=1;i=%x", at.UnixMicro()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// takeoverLines is a login relaying spam from four new addresses with
// forged senders, as journal lines written by smtpd and qmgr.
func takeoverLines(t *testing.T, login string, smtpd, qmgr writer) []string {
	var ls []string
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range 12 {
		at = at.Add(100 * time.Millisecond)
		qid := fmt.Sprintf("C%09X", 0x100+i)
		ip := fmt.Sprintf("203.0.113.%d", 10+i%4)
		pid := 2000 + i
		ls = append(ls,
			journalLine(t, at, "postfix/submission/smtpd", pid, fmt.Sprintf("connect from unknown[%s]", ip), smtpd),
			journalLine(t, at, "postfix/submission/smtpd", pid, fmt.Sprintf("%s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s", qid, ip, login), smtpd),
			journalLine(t, at, "postfix/qmgr", 900, fmt.Sprintf("%s: from=<sale%d@forged%d.example>, size=400, nrcpt=1 (queue active)", qid, i, i), qmgr))
	}
	return ls
}

var labTrust = JournalTrust{UIDs: []string{"102", "0"}, Dirs: []string{"/usr/lib/postfix/sbin", "/usr/sbin"}, Units: []string{"postfix"}}

// TestJournalTrustDropsForgedLines: Postfix lines in the journal written by
// a local user (logger -t postfix/submission/smtpd, or a program named
// smtpd) raise no alert; the same lines written by Postfix do.
func TestJournalTrustDropsForgedLines(t *testing.T) {
	for _, tc := range []struct {
		name        string
		trust       *JournalTrust
		smtpd, qmgr writer
		alert       bool
		untrusted   int64
	}{
		{"written by Postfix", &labTrust, postfixSmtpd, postfixQmgr, true, 0},
		{"Postfix, _EXE and unit not read in time", &labTrust, writer{uid: "102", comm: "smtpd"}, writer{uid: "102"}, true, 0},
		{"a user's logger", &labTrust, userLogger, userLogger, false, 36},
		{"a user's program named smtpd", &labTrust, userSmtpd, userSmtpd, false, 36},
		{"a user's logger, smtpd lines only", &labTrust, userLogger, postfixQmgr, false, 24},
		{"a user's logger, no trust configured", nil, userLogger, userLogger, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var alerts []Alert
			var drops []string
			cfg := Config{Loc: time.UTC, Sink: func(a Alert) { alerts = append(alerts, a) }}
			if tc.trust != nil {
				tr := *tc.trust
				tr.OnDrop = func(tag, why string) { drops = append(drops, tag+": "+why) }
				cfg.Journal = &tr
			}
			e := New(cfg)
			for _, l := range takeoverLines(t, "alice@example.org", tc.smtpd, tc.qmgr) {
				e.Line("journal", []byte(l))
			}
			if got := len(alerts) > 0; got != tc.alert {
				t.Fatalf("alerted %v, want %v (alerts %+v, stats %+v)", got, tc.alert, alerts, e.Stats)
			}
			if e.Stats.Untrusted != tc.untrusted {
				t.Errorf("untrusted lines %d, want %d", e.Stats.Untrusted, tc.untrusted)
			}
			if tc.untrusted > 0 && (len(drops) != maxDropReports || !strings.Contains(drops[0], `_UID "1000" is not Postfix's`)) {
				t.Errorf("drops reported: %q", drops)
			}
		})
	}
}

func TestJournalTrustFields(t *testing.T) {
	for _, tc := range []struct {
		env envelope.Envelope
		why string
	}{
		{envelope.Envelope{UID: "102", Exe: "/usr/lib/postfix/sbin/smtpd", Unit: "postfix@-.service"}, ""},
		{envelope.Envelope{UID: "0", Exe: "/usr/lib/postfix/sbin/master", Unit: "postfix.service"}, ""},
		{envelope.Envelope{UID: "0", Exe: "/usr/sbin/postsuper", Unit: "session-4.scope"}, "_SYSTEMD_UNIT"},
		{envelope.Envelope{UID: "102", Exe: "/tmp/smtpd", Unit: "postfix@-.service"}, "_EXE"},
		{envelope.Envelope{UID: "1000", Exe: "/usr/lib/postfix/sbin/smtpd"}, "_UID"},
		{envelope.Envelope{UID: "", Comm: "smtpd"}, "_UID"},
		{envelope.Envelope{UID: "102", Exe: "/usr/lib/postfix/sbin/../../../tmp/x"}, "_EXE"},
	} {
		why := labTrust.written(&tc.env)
		if tc.why == "" && why != "" || tc.why != "" && !strings.HasPrefix(why, tc.why) {
			t.Errorf("%+v: %q, want %q", tc.env, why, tc.why)
		}
	}
}
