package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/policy"
	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/watch"
)

// runCmd runs saslguard with args and returns its exit status and output.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	code := 0
	if err := root.Execute(); err != nil {
		code = 2
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
		fmt.Fprintln(&errb, "saslguard:", err)
	}
	return code, out.String(), errb.String()
}

const example = "../../examples/mail.log.gz"

type truthFile struct {
	Compromised []struct {
		Login string `json:"login"`
	} `json:"compromised"`
}

func TestScanExampleExitsOneAndNamesTheTakeovers(t *testing.T) {
	code, out, _ := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--format", "json", example)
	if code != 1 {
		t.Fatalf("exit status %d, want 1 (compromised logins found)", code)
	}
	var doc struct {
		Accounts []struct {
			Login, Verdict string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json: %v", err)
	}
	var truth truthFile
	data, err := os.ReadFile("../../examples/mail.log.truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, c := range truth.Compromised {
		want[c.Login] = true
	}
	got := map[string]bool{}
	for _, a := range doc.Accounts {
		if a.Verdict == "compromised" {
			got[a.Login] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compromised %v, want %v", got, want)
	}
}

func TestScanTextReport(t *testing.T) {
	code, out, _ := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", example)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"COMPROMISED", "likely start:", "sender domains not its own", "next: saslguard respond --", "unauthenticated mail:"} {
		if !strings.Contains(out, s) {
			t.Errorf("text report lacks %q", s)
		}
	}
}

func TestScanCleanLogExitsZero(t *testing.T) {
	log := "Nov 27 05:39:22 mx1 postfix/submission/smtpd[1]: 8A1A2B830F: client=unknown[198.51.100.1], sasl_method=PLAIN, sasl_username=a@lab.test\n" +
		"Nov 27 05:39:22 mx1 postfix/qmgr[2]: 8A1A2B830F: from=<a@lab.test>, size=1, nrcpt=1 (queue active)\n"
	code, out, errs := runCmd(t, log, "scan", "--year", "2026", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(out, "no login flagged") {
		t.Errorf("output: %s", out)
	}
}

func TestScanErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"scan", "/nonexistent/mail.log"},
		{"scan", "--format", "xml", example},
		{"scan", "--tz", "Mars/Olympus", example},
		{"scan", "--year", "26", example}, // a typo for 2026: was a panic
		{"scan", "--year", "-5", example},
		{"scan", "--year", "1969", example},
		{"scan", "--year", "10000", example},
		{"watch", "--once", "--year", "0x7e9", example},
		{"explain", "--year", "1", "Nov 27 10:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]"},
	} {
		code, _, stderr := runCmd(t, "", args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if slices.Contains(args, "--year") && !strings.Contains(stderr, "want a year from 1970 to 9999") {
			t.Errorf("%v: stderr %q does not say what --year takes", args, stderr)
		}
	}
}

// TestScanBadClockLine: a line stamped before 1970 (a bad clock) is read
// like any other; it once crashed the detector's hourly baseline.
func TestScanBadClockLine(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(log, []byte(
		"1969-12-31T22:00:00Z mx1 postfix/submission/smtpd[101]: 1A2B3C4D5E: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=a@example.org\n"+
			"1969-12-31T22:00:01Z mx1 postfix/qmgr[50]: 1A2B3C4D5E: from=<a@example.org>, size=100, nrcpt=1 (queue active)\n"+
			"0001-01-01T00:00:00Z mx1 postfix/qmgr[50]: 1A2B3C4D5F: from=<b@example.org>, size=100, nrcpt=1 (queue active)\n"+
			"9999-12-31T23:59:59Z mx1 postfix/submission/smtpd[101]: 1A2B3C4D60: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=b@example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "", "scan", "--format", "json", log)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr %s", code, stderr)
	}
	if !strings.Contains(out, `"login": "a@example.org"`) {
		t.Errorf("output does not list a@example.org:\n%s", out)
	}
}

func TestConfigExampleRoundTrip(t *testing.T) {
	code, out, _ := runCmd(t, "", "config", "example")
	if code != 0 {
		t.Fatal(code)
	}
	cfg, err := config.Parse(out)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if !reflect.DeepEqual(cfg, config.Default()) {
		t.Errorf("example != defaults:\n%+v\n%+v", cfg, config.Default())
	}
	pc, err := policy.DecodeConfig("example", out)
	if err != nil {
		t.Fatalf("the example's policy section does not load: %v", err)
	}
	if fmt.Sprintf("%+v", pc) != fmt.Sprintf("%+v", policy.DefaultConfig()) {
		t.Errorf("policy example != defaults:\n%+v\n%+v", pc, policy.DefaultConfig())
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[scan]\nown_domain = [\"x\"]\n"), 0o600)
	code, _, errs := runCmd(t, "", "config", "check", bad)
	if code != 2 {
		t.Errorf("unknown key accepted: exit %d %s", code, errs)
	}
}

func TestExplain(t *testing.T) {
	code, out, _ := runCmd(t, "", "explain", "--year", "2026",
		"Nov 27 05:39:22 mx1 postfix/submission/smtpd[18296]: 8A1A2B830F: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=alice@example.org\x1b[31m",
		"not a log line")
	if code != 0 {
		t.Fatal(code)
	}
	for _, s := range []string{"event:    client", "login:", "alice@example.org\\u001b[31m", "no syslog envelope"} {
		if !strings.Contains(out, s) {
			t.Errorf("explain output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("explain printed a raw escape sequence")
	}
}

func TestWatchOnceAgreesWithScan(t *testing.T) {
	code, out, _ := runCmd(t, "", "watch", "--once", "--year", "2026", "--tz", "UTC", "--format", "json", example)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a struct{ Login, Verdict, Start string }
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert line %q: %v", line, err)
		}
		got[a.Login] = a.Start
	}
	_, sout, _ := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--format", "json", example)
	var doc struct {
		Accounts []struct {
			Login, Verdict  string
			CompromiseStart string `json:"compromise_start"`
		}
	}
	if err := json.Unmarshal([]byte(sout), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, a := range doc.Accounts {
		if a.Verdict == "compromised" {
			want[a.Login] = a.CompromiseStart
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("watch --once alerted %v, scan found %v", got, want)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWatchFollowsALiveLog: watch follows a log being written (and
// rotated) and alerts on the takeover written into it.
func TestWatchFollowsALiveLog(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	var out syncBuffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	sock := filepath.Join(dir, "watch.sock")
	metrics := freeLoopbackAddr(t)
	root.SetArgs([]string{"watch", "--tz", "UTC", "--format", "json", "--socket", sock, "--metrics", metrics, "--state-dir", dir, logPath})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		qid := fmt.Sprintf("%010X", 0xA00000+i)
		ts := fmt.Sprintf("Nov 27 05:%02d:%02d", 10+i/60, i%60)
		fmt.Fprintf(f, "%s mx1 postfix/submission/smtpd[%d]: %s: client=unknown[203.0.113.%d], sasl_method=PLAIN, sasl_username=victim@lab.test\n", ts, 100+i, qid, i%8)
		fmt.Fprintf(f, "%s mx1 postfix/qmgr[9]: %s: from=<x@spam%d.example>, size=100, nrcpt=3 (queue active)\n", ts, qid, i)
		if i == 20 { // rotate by rename in the middle of the attack
			f.Close()
			if err := os.Rename(logPath, logPath+".1"); err != nil {
				t.Fatal(err)
			}
			if f, err = os.Create(logPath); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), `"login":"victim@lab.test"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no alert within 20 s; output: %q", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// the status socket and the metrics show the same
	code, status, errs := runCmd(t, "", "status", "--socket", sock)
	if code != 0 || !strings.Contains(status, "COMPROMISED") || !strings.Contains(status, "victim@lab.test") {
		t.Errorf("status: exit %d %q %q", code, status, errs)
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`saslguard_watch_logins{verdict="compromised"} 1`, "saslguard_watch_alerts_total 1", "saslguard_watch_lines_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	if n := strings.Count(out.String(), `"login":"victim@lab.test"`); n != 1 {
		t.Errorf("%d alerts for one takeover", n)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("status socket left behind: %v", err)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestMetricsRefusesNonLoopback(t *testing.T) {
	code, _, errs := runCmd(t, "", "watch", "--socket", "", "--metrics", "0.0.0.0:9155", "/nonexistent")
	if code != 2 || !strings.Contains(errs, "loopback") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// TestWatchResumesAfterRestart: stopped and started again on the same state
// directory, watch reads only the new lines and does not alert twice.
func TestWatchResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	write := func(from, to int) {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i < to; i++ {
			qid := fmt.Sprintf("%010X", 0xB00000+i)
			ts := fmt.Sprintf("Nov 27 06:%02d:%02d", i/60, i%60)
			fmt.Fprintf(f, "%s mx1 postfix/submission/smtpd[%d]: %s: client=unknown[203.0.113.%d], sasl_method=PLAIN, sasl_username=victim@lab.test\n", ts, 100+i, qid, i%8)
			fmt.Fprintf(f, "%s mx1 postfix/qmgr[9]: %s: from=<x@spam%d.example>, size=100, nrcpt=3 (queue active)\n", ts, qid, i)
		}
	}
	run := func(wantLines int64) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		root := newRootCmd()
		var out syncBuffer
		root.SetOut(&out)
		root.SetErr(io.Discard)
		sock := filepath.Join(dir, "watch.sock")
		root.SetArgs([]string{"watch", "--tz", "UTC", "--format", "json", "--socket", sock, "--state-dir", dir, "--poll", "20ms", logPath})
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, err := watchStatus(sock)
			if err == nil && st >= wantLines {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watch did not read %d lines in 20 s (last: %d, %v)", wantLines, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	write(0, 30)
	first := run(60)
	if !strings.Contains(first, `"login":"victim@lab.test"`) {
		t.Fatalf("no alert in the first run: %q", first)
	}
	write(30, 40)
	second := run(80) // lines counted over both runs: 80 means the first 60 were not read again
	if strings.Contains(second, `"login":"victim@lab.test"`) {
		t.Errorf("alerted again after the restart: %q", second)
	}
	// the saved state counted every line once: 40 messages of two lines
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, cursors, err := watch.Resume(context.Background(), st, watch.Config{})
	if err != nil || cursors == nil {
		t.Fatalf("resume: %v %v", cursors, err)
	}
	if eng.Stats.Lines != 80 {
		t.Errorf("%d lines counted, want 80", eng.Stats.Lines)
	}
}

// watchStatus returns the lines a running daemon has read.
func watchStatus(sock string) (int64, error) {
	st, err := watch.ReadStatus(sock, time.Second)
	return st.Stats.Lines, err
}

// TestWatchJournal: with --journal, watch reads journalctl -o json output
// (a stand-in program here), alerts, and on restart asks for the lines after
// the saved __CURSOR. Lines tagged as Postfix's that a local user wrote
// (their _UID, logger's _EXE) raise nothing.
func TestWatchJournal(t *testing.T) {
	dir := t.TempDir()
	trust, err := watch.PostfixJournalTrust(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var js strings.Builder
	base := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		at := base.Add(time.Duration(i) * time.Second).UnixMicro()
		for k, w := range []struct{ login, uid, exe string }{
			{"victim@lab.test", trust.UIDs[0], "/usr/lib/postfix/sbin/smtpd"},
			{"colleague@lab.test", "1000", "/usr/bin/logger"},
		} {
			qid := fmt.Sprintf("%010X", 0xC00000+i+k*0x1000)
			for j, m := range []struct{ tag, msg string }{
				{"postfix/submission/smtpd", fmt.Sprintf("%s: client=unknown[203.0.113.%d], sasl_method=PLAIN, sasl_username=%s", qid, i%8, w.login)},
				{"postfix/qmgr", fmt.Sprintf("%s: from=<x@spam%d.example>, size=100, nrcpt=3 (queue active)", qid, i)},
			} {
				line, _ := json.Marshal(map[string]string{
					"__REALTIME_TIMESTAMP": fmt.Sprint(at + int64(4*k+j)), "__CURSOR": fmt.Sprintf("s=abc;i=%d", 4*i+2*k+j),
					"MESSAGE": m.msg, "SYSLOG_IDENTIFIER": m.tag, "_PID": "42", "_HOSTNAME": "mx1", "_COMM": "smtpd",
					"_UID": w.uid, "_EXE": w.exe,
				})
				js.Write(line)
				js.WriteByte('\n')
			}
		}
	}
	jsonFile := filepath.Join(dir, "journal.json")
	argsFile := filepath.Join(dir, "args")
	if err := os.WriteFile(jsonFile, []byte(js.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "journalctl")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+argsFile+"\ncat "+jsonFile+"\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "watch.sock")
	runs := 0
	run := func() string {
		runs++
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		root := newRootCmd()
		var out syncBuffer
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"watch", "--journal", "--journal-command", script, "--format", "json", "--socket", sock, "--state-dir", dir, "--poll", "20ms"})
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			// every line read (the count is restored on a restart), and
			// this run's journalctl started
			b, _ := os.ReadFile(argsFile)
			if n, err := watchStatus(sock); err == nil && n >= 160 && strings.Count(string(b), "\n") >= runs {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watch did not read the journal: %q", out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	first := run()
	if !strings.Contains(first, `"login":"victim@lab.test"`) {
		t.Fatalf("no alert from the journal: %q", first)
	}
	if strings.Contains(first, "colleague@lab.test") {
		t.Errorf("alert from lines a user wrote: %q", first)
	}
	run()
	args, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(string(args)), "\n")
	if len(calls) != 2 || !strings.Contains(calls[0], "--since -24h") || !strings.Contains(calls[1], "--after-cursor s=abc;i=159") ||
		!strings.Contains(calls[0], "SYSLOG_FACILITY=2") {
		t.Errorf("journalctl calls: %q", calls)
	}
}

// TestWatchReloadsOnSIGHUP: a login allowlisted in the configuration after
// the start is reported as allowlisted (never contained) once watch got
// SIGHUP.
func TestWatchReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "saslguard.toml")
	if err := os.WriteFile(conf, []byte("[scan]\ntimezone = \"UTC\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	var out, errs syncBuffer
	root.SetOut(&out)
	root.SetErr(&errs)
	sock := filepath.Join(dir, "watch.sock")
	root.SetArgs([]string{"watch", "--config", conf, "--format", "json", "--socket", sock, "--state-dir", dir, "--poll", "20ms", logPath})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for _, err := watchStatus(sock); err != nil; _, err = watchStatus(sock) {
		if time.Now().After(deadline) {
			t.Fatal("watch did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(conf, []byte("[scan]\ntimezone = \"UTC\"\nallow_logins = [\"victim@lab.test\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(errs.String(), "reload: configuration applied") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload: %q", errs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		qid := fmt.Sprintf("%010X", 0xD00000+i)
		ts := fmt.Sprintf("Nov 27 07:%02d:%02d", i/60, i%60)
		fmt.Fprintf(f, "%s mx1 postfix/submission/smtpd[%d]: %s: client=unknown[203.0.113.%d], sasl_method=PLAIN, sasl_username=victim@lab.test\n", ts, 100+i, qid, i%8)
		fmt.Fprintf(f, "%s mx1 postfix/qmgr[9]: %s: from=<x@spam%d.example>, size=100, nrcpt=3 (queue active)\n", ts, qid, i)
	}
	f.Close()
	for !strings.Contains(out.String(), `"login":"victim@lab.test"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no alert: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(out.String(), `"allowlisted":true`) {
		t.Errorf("the reloaded allowlist was not applied: %q", out.String())
	}
}
