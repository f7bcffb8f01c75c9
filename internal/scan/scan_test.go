package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/report"
	"github.com/saslguard/saslguard/internal/scan"
	"github.com/saslguard/saslguard/internal/watch"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// runScan scans paths with the year and zone pinned.
func runScan(t *testing.T, opts scan.Options, paths ...string) *scan.Result {
	t.Helper()
	set, err := logsrc.Open(paths, logsrc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Loc == nil {
		opts.Loc = time.UTC
	}
	if opts.Year == 0 {
		opts.Year = 2026
	}
	res, err := scan.Run(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// scanFiles scans paths with opts as they are (the year not pinned).
func scanFiles(t *testing.T, opts scan.Options, paths ...string) *scan.Result {
	t.Helper()
	set, err := logsrc.Open(paths, logsrc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// scanPipe scans data read from a pipe.
func scanPipe(t *testing.T, data string, opts scan.Options) *scan.Result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString(data)
		w.Close()
	}()
	set, err := logsrc.Open([]string{"-"}, logsrc.Options{Stdin: r})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// stable strips what changes from run to run (timings, paths).
func stable(doc report.Document) report.Document {
	doc.Stats.Seconds = 0
	for i, f := range doc.Stats.Files {
		doc.Stats.Files[i] = filepath.Base(f)
	}
	return doc
}

// TestGolden scans each testdata/golden/*.log and compares the JSON report
// with its .golden file (go test -update rewrites them).
func TestGolden(t *testing.T) {
	logs, _ := filepath.Glob("testdata/golden/*.log")
	if len(logs) == 0 {
		t.Fatal("no golden logs")
	}
	for _, log := range logs {
		t.Run(filepath.Base(log), func(t *testing.T) {
			res := runScan(t, scan.Options{}, log)
			var buf bytes.Buffer
			if err := report.JSON(&buf, stable(report.Build(res, nil, time.UTC))); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(log, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(buf.String(), "\n")); diff != "" {
				t.Errorf("%s differs from %s (-want +got):\n%s", log, golden, diff)
			}
		})
	}
}

func account(t *testing.T, res *scan.Result, login string) *correlate.Account {
	t.Helper()
	a := res.Correlator.Account(login)
	if a == nil {
		t.Fatalf("no account %q", login)
	}
	return a
}

func TestHopsAndBounces(t *testing.T) {
	res := runScan(t, scan.Options{}, "testdata/golden/hops.log")
	a := account(t, res, "alice@lab.test")
	if a.Messages != 1 || a.FilterCopies != 1 || a.Bounces != 1 || a.Recipients != 2 {
		t.Errorf("messages %d filter copies %d bounces %d recipients %d", a.Messages, a.FilterCopies, a.Bounces, a.Recipients)
	}
	if a.RemoteRejections != 1 {
		t.Errorf("remote rejections %d, want 1 (the 5.7.1 of the filter copy)", a.RemoteRejections)
	}
	if u := res.Correlator.Unauth.Messages; u != 0 {
		t.Errorf("the filter copy was counted as unauthenticated mail: %d", u)
	}
	// the bounce still queued belongs to alice
	open := res.Correlator.Open("alice@lab.test")
	if len(open) != 1 || open[0].ID() != "9C8D7E6F5A" {
		t.Errorf("open messages of alice: %v", open)
	}
}

func TestQueueIDReuseAndHosts(t *testing.T) {
	res := runScan(t, scan.Options{}, "testdata/golden/qid-reuse.log")
	for login, want := range map[string][2]int{"bob@lab.test": {1, 1}, "carol@lab.test": {1, 1}, "dave@lab.test": {1, 3}} {
		a := account(t, res, login)
		if a.Messages != want[0] || a.Recipients != want[1] {
			t.Errorf("%s: %d messages %d recipients, want %v", login, a.Messages, a.Recipients, want)
		}
	}
	if a := account(t, res, "bob@lab.test"); a.Sent != 1 || a.Deferred != 0 {
		t.Errorf("bob: sent %d deferred %d (carol's deferral leaked into bob's reused id?)", a.Sent, a.Deferred)
	}
	if a := account(t, res, "carol@lab.test"); a.Deferred != 1 {
		t.Errorf("carol: deferred %d", a.Deferred)
	}
}

func TestFailuresAreNotLogins(t *testing.T) {
	res := runScan(t, scan.Options{}, "testdata/golden/failures.log")
	a := account(t, res, "erin@lab.test")
	if a.FailedLogins != 6 {
		t.Errorf("failed logins %d, want 6 (1 + 4 repeated + 1 dovecot)", a.FailedLogins)
	}
	if a.Messages != 1 || a.Sessions != 1 {
		t.Errorf("messages %d sessions %d, want 1/1: failures must not count as logins", a.Messages, a.Sessions)
	}
	if a.FailuresFromItsIPs != 4 {
		t.Errorf("failures from its IPs %d, want 4 (from 203.0.113.2 before it logged in)", a.FailuresFromItsIPs)
	}
	st := res.Stats
	if st.Unparsed["smtpd"] != 1 || st.OtherPrograms["CRON"] != 1 || st.NoEnvelope != 1 {
		t.Errorf("stats: unparsed %v other %v no envelope %d", st.Unparsed, st.OtherPrograms, st.NoEnvelope)
	}
	if root := res.Correlator.Account("root"); root == nil || root.FailedLogins != 2 {
		t.Errorf("dovecot's 2 attempts for root not counted: %+v", root)
	}
}

func TestJournal(t *testing.T) {
	res := runScan(t, scan.Options{}, "testdata/golden/journal.log")
	a := account(t, res, "frank@lab.test")
	if a.Messages != 1 {
		t.Errorf("messages %d", a.Messages)
	}
	if res.Stats.Suppressed != 512 {
		t.Errorf("suppressed %d, want 512", res.Stats.Suppressed)
	}
	if len(res.Correlator.Open("frank@lab.test")) != 0 {
		t.Error("the removed line given as a byte array was not read")
	}
}

// TestNewYear: a rotated set that crosses December to January, given in
// the wrong order, reads with the right years.
func TestNewYear(t *testing.T) {
	res := runScan(t, scan.Options{Year: 2027}, "testdata/newyear/mail.log", "testdata/newyear/mail.log.1.gz")
	a := account(t, res, "gina@lab.test")
	want := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)
	if !a.First.Equal(want) {
		t.Errorf("first seen %v, want %v", a.First, want)
	}
	if a.Last.Year() != 2027 {
		t.Errorf("last seen %v, want 2027", a.Last)
	}
	if a.Sent != 1 || a.Messages != 2 {
		t.Errorf("sent %d messages %d: the message across New Year was not followed", a.Sent, a.Messages)
	}
}

// TestYearFromMtime: without --year, the newest file's mtime anchors the year.
func TestYearFromMtime(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"mail.log", "mail.log.1.gz"} {
		data, err := os.ReadFile(filepath.Join("testdata/newyear", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2031, 1, 1, 0, 5, 0, 0, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	set, err := logsrc.Open([]string{filepath.Join(dir, "mail.log*")}, logsrc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), set, scan.Options{Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	a := account(t, res, "gina@lab.test")
	if a.First.Year() != 2030 || a.Last.Year() != 2031 {
		t.Errorf("first %v last %v, want 2030 and 2031", a.First, a.Last)
	}
}

func TestJSONShape(t *testing.T) {
	res := runScan(t, scan.Options{}, "testdata/golden/hops.log")
	var buf bytes.Buffer
	if err := report.JSON(&buf, report.Build(res, nil, time.UTC)); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	accts := doc["accounts"].([]any)
	acct := accts[0].(map[string]any)
	for _, k := range []string{"login", "verdict", "score", "reasons", "compromise_start", "first_seen", "last_seen",
		"messages", "recipients", "client_ips", "sender_domains", "foreign_sender_domains", "deferred", "bounced",
		"failed_logins", "queue_ids"} {
		if _, ok := acct[k]; !ok {
			t.Errorf("account lacks %q", k)
		}
	}
	stats := doc["stats"].(map[string]any)
	for _, k := range []string{"lines", "parsed", "unparsed_by_program", "bytes", "seconds"} {
		if _, ok := stats[k]; !ok {
			t.Errorf("stats lacks %q", k)
		}
	}
}

// TestSideBySideLogs: a Dovecot log written beside mail.log is merged with
// it by time. One SMTP attempt logs a failure in each: merged, they are one
// failed login (read one after the other, they were two, hours apart in
// the correlator's eyes). A rotated pair given with them stays in order.
func TestSideBySideLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mtime time.Time, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("mail.log.1", time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		"Nov 20 08:00:00 mx postfix/smtpd[1]: 0A2B3C4D5E: client=a[192.0.2.1], sasl_method=PLAIN, sasl_username=ann@corp.example")
	mail := write("mail.log", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
		"Nov 20 10:00:00 mx postfix/smtps/smtpd[300]: warning: unknown[203.0.113.1]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=erin@corp.example",
		"Nov 20 11:00:00 mx postfix/smtps/smtpd[301]: warning: unknown[203.0.113.2]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=fred@corp.example",
		"Nov 20 11:59:00 mx postfix/smtpd[2]: 1A2B3C4D5F: client=a[192.0.2.1], sasl_method=PLAIN, sasl_username=ann@corp.example")
	dove := write("dovecot.log", time.Date(2026, 11, 20, 12, 0, 1, 0, time.UTC),
		"Nov 20 10:00:00 mx dovecot: auth: Info: passwd-file(erin@corp.example,203.0.113.1): Password mismatch",
		"Nov 20 10:30:00 mx dovecot: imap-login: Login: user=<ann@corp.example>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.25, mpid=7, session=<x>")
	for _, order := range [][]string{{mail, dove, old}, {dove, old, mail}} {
		res := runScan(t, scan.Options{}, order...)
		if n := res.Correlator.Stats.AuthFailures; n != 2 {
			t.Errorf("%v: %d failed logins, want 2 (erin's attempt counted once, fred's)", order, n)
		}
		ann := account(t, res, "ann@corp.example")
		if ann.Sessions != 2 || ann.OtherLogins != 1 || !ann.First.Equal(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("%v: ann %d sessions, %d IMAP logins, first %v", order, ann.Sessions, ann.OtherLogins, ann.First)
		}
		if res.Stats.Lines != 6 || !res.Stats.LastEvent.Equal(time.Date(2026, 11, 20, 11, 59, 0, 0, time.UTC)) {
			t.Errorf("%v: %d lines, last event %v", order, res.Stats.Lines, res.Stats.LastEvent)
		}
	}
}

// TestProgramNamesKept: the statistics' program names are copies, not views
// of a read buffer that is reused (they turned into fragments of later
// lines on logs of more than a few chunks).
func TestProgramNamesKept(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 12<<20; i++ {
		fmt.Fprintf(&b, "Mar  1 10:%02d:%02d mx1 CRON[%d]: (root) CMD (run-parts /etc/cron.hourly)\n", i/60%60, i%60, 1000+i%5000)
		fmt.Fprintf(&b, "Mar  1 10:%02d:%02d mx1 postfix/smtpd[%d]: %010X: this line means nothing but has status=weird\n", i/60%60, i%60, 2000+i%5000, i)
		fmt.Fprintf(&b, "Mar  1 10:%02d:%02d mx1 kernel: [%d.000] eth0 link up, padding padding padding\n", i/60%60, i%60, i)
	}
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	st := runScan(t, scan.Options{}, path).Stats
	if len(st.OtherPrograms) != 2 || st.OtherPrograms["CRON"] == 0 || st.OtherPrograms["kernel"] == 0 {
		t.Errorf("other programs %v, want CRON and kernel", st.OtherPrograms)
	}
	if len(st.Unparsed) != 1 || st.Unparsed["smtpd"] == 0 {
		t.Errorf("unparsed %v, want smtpd", st.Unparsed)
	}
}

// msgLines is one submitted message of login at stamp (a classic or RFC
// 3339 stamp), with queue id qid.
func msgLines(stamp, qid, login string) string {
	return fmt.Sprintf("%s mx1 postfix/submission/smtpd[101]: %s: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=%s\n"+
		"%s mx1 postfix/qmgr[50]: %s: from=<%s>, size=100, nrcpt=1 (queue active)\n", stamp, qid, login, stamp, qid, login)
}

// writeLog writes a log file with the given modification time.
func writeLog(t *testing.T, path, data string, mt time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func firstSeen(t *testing.T, res *scan.Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range report.Build(res, nil, time.UTC).Accounts {
		out[a.Login] = a.FirstSeen.Format(time.RFC3339)
	}
	return out
}

// TestYearInference: cases the year of classic stamps once came out wrong.
func TestYearInference(t *testing.T) {
	mt := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	type file struct {
		name, data string
		mtime      time.Time
	}
	for _, tc := range []struct {
		name  string
		files []file
		want  map[string]string
	}{{
		// a rotated set whose newest file has RFC 3339 stamps: the
		// classic file before it ends where it starts, in 2027
		name: "mixed formats across New Year",
		files: []file{
			{"mail.log.1", msgLines("Dec 31 23:00:00", "1A2B3C4D5E", "a@example.org"), mt("2027-01-01T00:00:00Z")},
			{"mail.log", msgLines("2027-01-01T01:00:00+00:00", "1A2B3C4D5F", "b@example.org"), mt("2027-01-01T02:00:00Z")},
		},
		want: map[string]string{"a@example.org": "2026-12-31T23:00:00Z", "b@example.org": "2027-01-01T01:00:00Z"},
	}, {
		// a reboot logged before the clock was set: the stray January
		// stamps must not move the rest of the file a year on
		name: "clock reset at boot",
		files: []file{{"mail.log", msgLines("Nov 20 10:00:00", "1A2B3C4D5E", "a@example.org") +
			msgLines("Jan  1 00:00:09", "1A2B3C4D60", "c@example.org") +
			msgLines("Nov 21 10:00:00", "1A2B3C4D5F", "b@example.org"), mt("2026-11-22T00:00:00Z")}},
		want: map[string]string{"a@example.org": "2026-11-20T10:00:00Z", "b@example.org": "2026-11-21T10:00:00Z",
			"c@example.org": "2026-01-01T00:00:09Z"},
	}, {
		// the same in a file that does cross New Year: the stray stamp's
		// wrap is undone, the real one kept
		name: "clock reset in a file across New Year",
		files: []file{{"mail.log", msgLines("Nov 20 10:00:00", "1A2B3C4D5E", "a@example.org") +
			msgLines("Jan  1 00:00:09", "1A2B3C4D60", "c@example.org") +
			msgLines("Nov 21 10:00:00", "1A2B3C4D5F", "b@example.org") +
			msgLines("Jan  3 10:00:00", "1A2B3C4D61", "d@example.org"), mt("2027-01-03T11:00:00Z")}},
		want: map[string]string{"a@example.org": "2026-11-20T10:00:00Z", "b@example.org": "2026-11-21T10:00:00Z",
			"c@example.org": "2027-01-01T00:00:09Z", "d@example.org": "2027-01-03T10:00:00Z"},
	}, {
		// a quiet stretch of more than half a year
		name: "long gap",
		files: []file{{"mail.log", msgLines("Feb 28 10:00:00", "1A2B3C4D5E", "a@example.org") +
			msgLines("Mar  1 10:00:00", "1A2B3C4D5F", "b@example.org") +
			msgLines("Jan  5 10:00:00", "1A2B3C4D60", "c@example.org"), mt("2029-01-06T00:00:00Z")}},
		want: map[string]string{"a@example.org": "2028-02-28T10:00:00Z", "b@example.org": "2028-03-01T10:00:00Z",
			"c@example.org": "2029-01-05T10:00:00Z"},
	}, {
		// two logs side by side, each across New Year: each is its own
		// group, bounded by its own end, not by the other's start
		name: "side by side across New Year",
		files: []file{
			{"mail.log", msgLines("Dec 28 10:00:00", "1A2B3C4D01", "a1@example.org") + msgLines("Jan  2 10:00:00", "1A2B3C4D02", "a2@example.org"), mt("2027-01-03T10:00:00Z")},
			{"dovecot.log", msgLines("Dec 28 10:00:05", "1A2B3C4D03", "b1@example.org") + msgLines("Jan  2 11:00:00", "1A2B3C4D04", "b2@example.org"), mt("2027-01-03T10:00:05Z")},
		},
		want: map[string]string{"a1@example.org": "2026-12-28T10:00:00Z", "a2@example.org": "2027-01-02T10:00:00Z",
			"b1@example.org": "2026-12-28T10:00:05Z", "b2@example.org": "2027-01-02T11:00:00Z"},
	}, {
		// right after rotation the newest file is empty: its mtime bounds
		// the set
		name: "empty newest file",
		files: []file{
			{"mail.log.1", msgLines("Dec 31 10:00:00", "1A2B3C4D5E", "a@example.org"), mt("2027-01-01T00:00:00Z")},
			{"mail.log", "", mt("2027-01-01T00:10:00Z")},
		},
		want: map[string]string{"a@example.org": "2026-12-31T10:00:00Z"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for _, f := range tc.files {
				p := filepath.Join(dir, f.name)
				writeLog(t, p, f.data, f.mtime)
				paths = append(paths, p)
			}
			res := scanFiles(t, scan.Options{Loc: time.UTC}, paths...)
			if diff := cmp.Diff(tc.want, firstSeen(t, res)); diff != "" {
				t.Errorf("first seen (-want +got):\n%s", diff)
			}
		})
	}
}

// TestYearOfStandardInput: standard input redirected from a file is anchored
// on the file's mtime as a named file is; a pipe is read forward and its
// years are set so that its newest line is in --year.
func TestYearOfStandardInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	data := msgLines("Dec 30 10:00:00", "1A2B3C4D5E", "a@example.org") + msgLines("Jan  2 05:00:00", "1A2B3C4D5F", "b@example.org")
	writeLog(t, p, data, time.Date(2027, 1, 2, 6, 0, 0, 0, time.UTC))
	want := map[string]string{"a@example.org": "2026-12-30T10:00:00Z", "b@example.org": "2027-01-02T05:00:00Z"}

	// redirected: the mtime, and --year naming the newest line
	for _, year := range []int{0, 2027} {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		set, err := logsrc.Open([]string{"-"}, logsrc.Options{Stdin: fh})
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Run(context.Background(), set, scan.Options{Loc: time.UTC, Year: year})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, firstSeen(t, res)); diff != "" {
			t.Errorf("redirected stdin, year %d (-want +got):\n%s", year, diff)
		}
		if res.Stats.Lines != 4 {
			t.Errorf("redirected stdin: %d lines read, want 4 (Head and Tail must not move the stream)", res.Stats.Lines)
		}
	}

	// a pipe, with --year
	res := scanPipe(t, data, scan.Options{Loc: time.UTC, Year: 2027})
	if diff := cmp.Diff(want, firstSeen(t, res)); diff != "" {
		t.Errorf("pipe (-want +got):\n%s", diff)
	}
	doc := report.Build(res, nil, time.UTC)
	if got := doc.Stats.LastEvent.Format(time.RFC3339); got != "2027-01-02T05:00:00Z" {
		t.Errorf("pipe: last event %s, want 2027-01-02T05:00:00Z", got)
	}
}

// TestRepeatedDSTHour: the hour that repeats when daylight saving time ends
// is read in order, its first pass in summer time and its second in winter
// time, so that a log's time never runs back an hour.
func TestRepeatedDSTHour(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone data:", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	data := msgLines("Oct 25 01:50:00", "1A2B3C4D5E", "a@example.org") +
		msgLines("Oct 25 02:10:00", "1A2B3C4D5F", "b@example.org") +
		msgLines("Oct 25 02:50:00", "1A2B3C4D60", "c@example.org") +
		msgLines("Oct 25 02:05:00", "1A2B3C4D61", "d@example.org") + // the second pass
		msgLines("Oct 25 02:40:00", "1A2B3C4D62", "e@example.org") +
		msgLines("Oct 25 03:10:00", "1A2B3C4D63", "f@example.org")
	writeLog(t, p, data, time.Date(2026, 10, 25, 4, 0, 0, 0, time.UTC))
	res := scanFiles(t, scan.Options{Loc: berlin}, p)
	want := map[string]string{
		"a@example.org": "2026-10-24T23:50:00Z", "b@example.org": "2026-10-25T00:10:00Z", "c@example.org": "2026-10-25T00:50:00Z",
		"d@example.org": "2026-10-25T01:05:00Z", "e@example.org": "2026-10-25T01:40:00Z", "f@example.org": "2026-10-25T02:10:00Z",
	}
	if diff := cmp.Diff(want, firstSeen(t, res)); diff != "" {
		t.Errorf("first seen (-want +got):\n%s", diff)
	}

	// the same after a stray boot stamp in a file across New Year: the
	// undone wrap leaves nothing behind
	p2 := filepath.Join(dir, "stray.log")
	writeLog(t, p2, msgLines("Oct 20 10:00:00", "1A2B3C4D70", "s@example.org")+
		msgLines("Jan  1 00:00:09", "1A2B3C4D71", "stray@example.org")+data+
		msgLines("Jan  3 10:00:00", "1A2B3C4D72", "n@example.org"), time.Date(2027, 1, 3, 10, 0, 0, 0, time.UTC))
	res = scanFiles(t, scan.Options{Loc: berlin}, p2)
	got := firstSeen(t, res)
	for login, w := range want {
		if got[login] != w {
			t.Errorf("after a stray stamp: %s first seen %s, want %s", login, got[login], w)
		}
	}
}

// TestYearOfAPipeByTheClock: a pipe without --year is bounded by the
// clock: a stamp later in the year than today is last year's.
func TestYearOfAPipeByTheClock(t *testing.T) {
	now := time.Now().UTC()
	past, future := now.AddDate(0, 0, -2), now.AddDate(0, 0, 2)
	stamp := func(t time.Time) string { return t.Format("Jan _2 15:04:05") }
	data := msgLines(stamp(future), "1A2B3C4D5E", "a@example.org") + msgLines(stamp(past), "1A2B3C4D5F", "b@example.org")
	res := scanPipe(t, data, scan.Options{Loc: time.UTC})
	want := map[string]string{
		"a@example.org": future.AddDate(-1, 0, 0).Format(time.RFC3339),
		"b@example.org": past.Format(time.RFC3339),
	}
	if diff := cmp.Diff(want, firstSeen(t, res)); diff != "" {
		t.Errorf("first seen (-want +got):\n%s", diff)
	}
	if res.Stats.YearNote == "" {
		t.Error("no note that the clock was used")
	}
}

// TestFailedThenIMAPLoginIsNotFailuresOnly: a name that failed and then
// logged in over IMAP did succeed: the report lists it among the accounts,
// not among the names whose logins never succeeded.
func TestFailedThenIMAPLoginIsNotFailuresOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mail.log")
	var b strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "Mar  7 08:%02d:00 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<shared@example.org>, method=PLAIN, rip=203.0.113.4, lip=192.0.2.1\n", i)
		fmt.Fprintf(&b, "Mar  7 08:%02d:30 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<nobody@example.org>, method=PLAIN, rip=203.0.113.4, lip=192.0.2.1\n", i)
	}
	b.WriteString("Mar  7 09:00:00 mx1 dovecot: imap-login: Login: user=<shared@example.org>, method=PLAIN, rip=203.0.113.4, lip=192.0.2.1, mpid=1, TLS, session=<a>\n")
	writeLog(t, p, b.String(), time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC))
	doc := report.Build(runScan(t, scan.Options{}, p), nil, time.UTC)
	var only []string
	for _, f := range doc.FailuresOnly {
		only = append(only, f.Login)
	}
	if diff := cmp.Diff([]string{"nobody@example.org"}, only); diff != "" {
		t.Errorf("failed logins only (-want +got):\n%s", diff)
	}
	found := false
	for _, a := range doc.Accounts {
		if a.Login == "shared@example.org" {
			found = a.FailedLogins == 10 && a.OtherLogins == 1
		}
	}
	if !found {
		t.Errorf("shared@example.org not among the accounts with 10 failed logins and 1 IMAP login: %+v", doc.Accounts)
	}
}

// TestRepeatedDSTHourAsWatchReadsIt: lines the scan does not keep (here a
// disconnect without AUTH) still tell the year fixer where the log is in
// the repeated hour, so scan dates the second pass as watch --once does.
func TestRepeatedDSTHourAsWatchReadsIt(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone data:", err)
	}
	p := filepath.Join(t.TempDir(), "mail.log")
	data := msgLines("Oct 25 01:50:00", "1A2B3C4D5E", "a@example.org") +
		msgLines("Oct 25 02:10:00", "1A2B3C4D5F", "b@example.org") +
		"Oct 25 02:50:00 mx1 postfix/smtpd[102]: disconnect from unknown[192.0.2.9] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4\n" +
		msgLines("Oct 25 02:15:00", "1A2B3C4D60", "d@example.org") + // the second pass
		msgLines("Oct 25 03:10:00", "1A2B3C4D61", "f@example.org")
	writeLog(t, p, data, time.Date(2026, 10, 25, 4, 0, 0, 0, time.UTC))
	want := map[string]string{
		"a@example.org": "2026-10-24T23:50:00Z", "b@example.org": "2026-10-25T00:10:00Z",
		"d@example.org": "2026-10-25T01:15:00Z", "f@example.org": "2026-10-25T02:10:00Z",
	}
	res := scanFiles(t, scan.Options{Loc: berlin}, p)
	if diff := cmp.Diff(want, firstSeen(t, res)); diff != "" {
		t.Errorf("scan: first seen (-want +got):\n%s", diff)
	}
	set, err := logsrc.Open([]string{p}, logsrc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := watch.New(watch.Config{Loc: berlin})
	if err := e.Replay(context.Background(), set, 0); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range e.Correlator().Accounts() {
		got[a.Login] = a.First.UTC().Format(time.RFC3339)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("watch --once: first seen (-want +got):\n%s", diff)
	}
}
