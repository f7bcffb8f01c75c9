package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// logLine is one line of a built log and the daemon's log it belongs in.
type logLine struct {
	dovecot bool
	text    string
}

// takeover returns the lines of one SMTP AUTH takeover, in time order
// (2026, UTC). dora@corp.example sends her own mail from 192.0.2.10 for
// two days; on Nov 20, 203.0.113.50 fails a dozen IMAP logins as her, logs
// in over IMAP, and an hour later submits ten messages forged in three foreign
// domains. The failed logins make the verdict (without them the score
// stops at suspicious) and the IMAP login dates the start; both are
// Dovecot's. Other logins' mail and failures run through both logs, and
// each log has a line without a time stamp.
func takeover() []logLine {
	var out []logLine
	qid := 0
	stamp := func(t time.Time) string { return t.Format("Jan _2 15:04:05") + " mx1 " }
	message := func(t time.Time, ip, login, sender string) {
		qid++
		id := fmt.Sprintf("%010X", 0xB00000+qid)
		out = append(out,
			logLine{false, stamp(t) + fmt.Sprintf("postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s", 1000+qid, id, ip, login)},
			logLine{false, stamp(t.Add(time.Second)) + fmt.Sprintf("postfix/qmgr[90]: %s: from=<%s>, size=2100, nrcpt=1 (queue active)", id, sender)})
	}
	dove := func(t time.Time, msg string) { out = append(out, logLine{true, stamp(t) + "dovecot: " + msg}) }
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 2; d++ {
		for h := 8; h < 17; h += 2 {
			t := day.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			message(t, "192.0.2.10", "dora@corp.example", "dora@corp.example")
			dove(t.Add(5*time.Minute), "imap-login: Login: user=<dora@corp.example>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.25, mpid=7, TLS, session=<a>")
			message(t.Add(10*time.Minute), "192.0.2.11", "ann@corp.example", "ann@corp.example")
		}
	}
	attack := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 12; i++ {
		dove(attack.Add(time.Duration(i)*7*time.Second), "auth: Info: passwd-file(dora@corp.example,203.0.113.50): Password mismatch")
	}
	out = append(out, logLine{false, "postfix garbage without a time stamp"})
	message(attack.Add(2*time.Minute), "192.0.2.11", "ann@corp.example", "ann@corp.example")
	dove(attack.Add(5*time.Minute), "imap-login: Login: user=<dora@corp.example>, method=PLAIN, rip=203.0.113.50, lip=192.0.2.25, mpid=9, TLS, session=<b>")
	out = append(out, logLine{true, "\x00\x01 dovecot garbage without a time stamp"})
	domains := []string{"sekuca.com.br", "covohu.biz", "mail-lux.example"}
	for i := 0; i < 10; i++ {
		t := attack.Add(time.Hour + time.Duration(i)*40*time.Second)
		message(t, "203.0.113.50", "dora@corp.example", fmt.Sprintf("x%d@%s", i, domains[i%3]))
		if i == 5 {
			dove(t.Add(20*time.Second), "auth: Info: passwd-file(fred@corp.example,198.51.100.9): Password mismatch")
		}
	}
	return out
}

// writeLog writes lines to dir/name with the given modification time.
func writeLog(t *testing.T, dir, name string, mtime time.Time, finalNewline bool, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	data := strings.Join(lines, "\n")
	if finalNewline {
		data += "\n"
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

type onceAlert struct {
	Login, Verdict string
	Score          int
	At, Start      time.Time
	Reasons        []string
}

// watchOnce runs watch --once over files and returns its exit status and
// alerts.
func watchOnce(t *testing.T, files ...string) (int, []onceAlert) {
	t.Helper()
	args := append([]string{"watch", "--once", "--year", "2026", "--tz", "UTC", "--format", "json"}, files...)
	code, out, errs := runCmd(t, "", args...)
	if code != 0 && code != 1 {
		t.Fatalf("watch --once %v: exit %d: %s", files, code, errs)
	}
	var alerts []onceAlert
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var a onceAlert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		alerts = append(alerts, a)
	}
	return code, alerts
}

// TestWatchOnceReadsUnterminatedLastLine: the last line of a file that is
// not the last of the set counts even without a final newline. Here it is
// the line that makes dora's verdict.
func TestWatchOnceReadsUnterminatedLastLine(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for _, l := range takeover() {
		lines = append(lines, l.text)
	}
	writeLog(t, dir, "mail.log.1", time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC), false, lines...)
	writeLog(t, dir, "mail.log", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), true,
		"Nov 20 11:30:00 mx1 postfix/anvil[80]: statistics: max connection rate 1/60s for (smtp:192.0.2.11) at Nov 20 11:29:00")
	code, alerts := watchOnce(t, filepath.Join(dir, "mail.log"), filepath.Join(dir, "mail.log.1"))
	if code != 1 || len(alerts) != 1 || alerts[0].Login != "dora@corp.example" || alerts[0].Verdict != "compromised" {
		t.Fatalf("exit %d, alerts %+v; want dora@corp.example compromised", code, alerts)
	}
	// the last message's qmgr line, the file's last line, raised it
	if want := time.Date(2026, 11, 20, 10, 6, 0, 0, time.UTC); !alerts[0].At.Equal(want) {
		t.Errorf("alert at %v, want %v", alerts[0].At, want)
	}
}

// TestWatchOnceMergesSideBySideLogs: with mail.log (rotated once) and
// dovecot.log given side by side, in any order and whichever was written
// last, --once raises the alerts it raises on the one merged log: the
// Dovecot failures count before the forged mail, and the IMAP login dates
// the start.
func TestWatchOnceMergesSideBySideLogs(t *testing.T) {
	dir := t.TempDir()
	var all, rotated, postfix, dovecot []string
	split := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	for _, l := range takeover() {
		all = append(all, l.text)
		switch {
		case l.dovecot:
			dovecot = append(dovecot, l.text)
		case strings.HasPrefix(l.text, "Nov 18 "):
			rotated = append(rotated, l.text)
		default:
			postfix = append(postfix, l.text)
		}
	}
	end := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	merged := writeLog(t, dir, "merged.log", end, true, all...)
	code, want := watchOnce(t, merged)
	if code != 1 || len(want) != 1 || want[0].Login != "dora@corp.example" || want[0].Verdict != "compromised" {
		t.Fatalf("merged log: exit %d, alerts %+v; want dora@corp.example compromised", code, want)
	}
	if start := time.Date(2026, 11, 20, 9, 5, 0, 0, time.UTC); !want[0].Start.Equal(start) {
		t.Errorf("merged log: start %v, want the IMAP login at %v", want[0].Start, start)
	}
	if !strings.Contains(strings.Join(want[0].Reasons, "\n"), "failed logins") {
		t.Errorf("merged log: reasons %q name no failed logins", want[0].Reasons)
	}

	for _, dovecotLast := range []bool{false, true} {
		sub := filepath.Join(dir, fmt.Sprint(dovecotLast))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		mailEnd, doveEnd := end, end.Add(time.Second)
		if !dovecotLast {
			mailEnd, doveEnd = doveEnd, mailEnd
		}
		old := writeLog(t, sub, "mail.log.1", split, true, rotated...)
		mail := writeLog(t, sub, "mail.log", mailEnd, true, postfix...)
		dove := writeLog(t, sub, "dovecot.log", doveEnd, false, dovecot...)
		for _, args := range [][]string{{old, mail, dove}, {dove, mail, old}} {
			code, got := watchOnce(t, args...)
			if code != 1 || !reflect.DeepEqual(got, want) {
				t.Errorf("dovecot.log written last %v, %v: exit %d, alerts\n%+v\nwant\n%+v", dovecotLast, args, code, got, want)
			}
		}
	}
}
