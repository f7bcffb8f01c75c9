package watch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/scan"
)

func generate(t *testing.T, cfg loggen.Config) (string, *loggen.Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := loggen.Generate(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

// replay feeds the file to an engine line by line, as the daemon does.
func replay(t *testing.T, path string, year int) *Engine {
	t.Helper()
	e := New(Config{Loc: time.UTC})
	e.SetYear(path, year)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		e.Line(path, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestReplayAgreesWithScan: replaying a log through the engine, line by
// line, raises exactly one alert per login that scan finds compromised,
// with the same compromise start: the detector decides from what it has
// seen so far.
func TestReplayAgreesWithScan(t *testing.T) {
	for _, cfg := range []loggen.Config{
		{Seed: 1, Size: 8 << 20},
		{Seed: 3, Size: 8 << 20, Format: loggen.FormatRFC3339, LongIDRatio: 0.3},
	} {
		t.Run(fmt.Sprint(cfg.Seed), func(t *testing.T) {
			path, truth := generate(t, cfg)
			set, err := logsrc.Open([]string{path}, logsrc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), set, scan.Options{Year: truth.End.Year(), Loc: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]time.Time{}
			for _, a := range res.Accounts {
				if a.Detector().Verdict() == detect.Compromised {
					want[a.Login] = a.Detector().Start()
				}
			}
			if len(want) < 4 {
				t.Fatalf("scan found %d takeovers", len(want))
			}
			e := replay(t, path, truth.End.Year())
			got := map[string]time.Time{}
			last := map[string]time.Time{}
			for _, al := range e.Alerts() {
				if _, dup := got[al.Login]; dup {
					// a re-alert: the login still sends a cooldown later
					if !strings.HasPrefix(al.Reasons[0], "still sending") || al.At.Sub(last[al.Login]) < 6*time.Hour || !al.Start.Equal(got[al.Login]) {
						t.Errorf("second alert for %s: %+v", al.Login, al)
					}
					last[al.Login] = al.At
					continue
				}
				got[al.Login] = al.Start
				last[al.Login] = al.At
				if al.Command != "saslguard respond -- "+al.Login || len(al.Reasons) == 0 {
					t.Errorf("alert %+v", al)
				}
				if al.At.Before(al.Start) {
					t.Errorf("%s: alert at %v before its start %v", al.Login, al.At, al.Start)
				}
			}
			if len(got) != len(want) {
				t.Errorf("replay alerted %v, scan found %v", got, want)
			}
			for login, start := range want {
				if s, ok := got[login]; !ok || !s.Equal(start) {
					t.Errorf("%s: replay start %v, scan start %v", login, s, start)
				}
			}
		})
	}
}

func TestFailuresAloneNeverAlert(t *testing.T) {
	e := New(Config{Loc: time.UTC})
	e.SetYear("x", 2026)
	for i := 0; i < 5000; i++ {
		line := fmt.Sprintf("Nov 27 05:%02d:%02d mx1 postfix/smtps/smtpd[1]: warning: unknown[203.0.%d.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin@lab.test",
			i/60%60, i%60, i/250, i%250)
		e.Line("x", []byte(line))
	}
	if n := len(e.Alerts()); n != 0 {
		t.Fatalf("%d alerts on failed logins alone", n)
	}
	if e.Stats.Parsed != 5000 {
		t.Errorf("parsed %d", e.Stats.Parsed)
	}
}

func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	defer srv.Close()
	wh, err := NewWebhook(context.Background(), srv.URL, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	wh.Sink(Alert{Login: "evil\n\"login", Verdict: "compromised"})
	wh.Close()
	if len(got) != 1 || got[0].Login != "evil\n\"login" || wh.Failed() != 0 {
		t.Fatalf("received %+v, failed %d", got, wh.Failed())
	}
	for _, bad := range []string{"file:///etc/passwd", "ftp://x", "not a url", "http://"} {
		if _, err := NewWebhook(context.Background(), bad, 0, nil); err == nil {
			t.Errorf("webhook %q accepted", bad)
		}
	}
}

func TestTextSinkEscapes(t *testing.T) {
	var buf strings.Builder
	TextSink(&buf, time.UTC)(Alert{Login: "x\x1b[2Jy", Verdict: "compromised", Reasons: []string{"r\rr"}, Command: "c"})
	if strings.ContainsAny(buf.String(), "\x1b\r") {
		t.Errorf("raw control characters in %q", buf.String())
	}
	_ = io.Discard
}

// TestReAlertAfterCooldown: a compromised login that still sends after the
// cooldown alerts again (once per cooldown), so a login cleaned up,
// re-enabled and taken over again is not silent.
func TestReAlertAfterCooldown(t *testing.T) {
	e := New(Config{Loc: time.UTC, Cooldown: 2 * time.Hour})
	e.SetYear("x", 2026)
	send := func(start time.Time, n int, seq int) {
		for i := 0; i < n; i++ {
			at := start.Add(time.Duration(i) * 10 * time.Second)
			ts := at.Format("Jan _2 15:04:05")
			qid := fmt.Sprintf("%010X", 0xE00000+seq*1000+i)
			e.Line("x", []byte(fmt.Sprintf("%s mx1 postfix/submission/smtpd[1]: %s: client=unknown[203.0.113.%d], sasl_method=PLAIN, sasl_username=victim@lab.test", ts, qid, i%9)))
			e.Line("x", []byte(fmt.Sprintf("%s mx1 postfix/qmgr[2]: %s: from=<x@spam%d-%d.example>, size=1, nrcpt=1 (queue active)", ts, qid, seq, i)))
		}
	}
	t0 := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	send(t0, 40, 0)
	if n := len(e.Alerts()); n != 1 {
		t.Fatalf("%d alerts after the takeover", n)
	}
	send(t0.Add(30*time.Minute), 20, 1) // within the cooldown: silent
	if n := len(e.Alerts()); n != 1 {
		t.Fatalf("%d alerts within the cooldown", n)
	}
	send(t0.Add(3*time.Hour), 20, 2) // after it: once more
	al := e.Alerts()
	if len(al) != 2 || !strings.HasPrefix(al[1].Reasons[0], "still sending") || al[1].Start != al[0].Start {
		t.Fatalf("alerts %+v", al)
	}
}

// TestRecheckGoesToContainmentOnly: while contain mode asks for it, a
// compromised login that keeps sending is handed back to it, and no alert
// is raised again.
func TestRecheckGoesToContainmentOnly(t *testing.T) {
	var rechecked []Alert
	due := false
	e := New(Config{Loc: time.UTC, RecheckDue: func(string) bool { return due }, Recheck: func(a Alert) { rechecked = append(rechecked, a) }})
	e.SetYear("x", 2026)
	t0 := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	send := func(from, n int) {
		for i := from; i < from+n; i++ {
			ts := t0.Add(time.Duration(i) * 10 * time.Second).Format("Jan _2 15:04:05")
			qid := fmt.Sprintf("%010X", 0xE00000+i)
			e.Line("x", []byte(fmt.Sprintf("%s mx1 postfix/submission/smtpd[1]: %s: client=unknown[203.0.113.%d], sasl_method=PLAIN, sasl_username=victim@lab.test", ts, qid, i%9)))
			e.Line("x", []byte(fmt.Sprintf("%s mx1 postfix/qmgr[2]: %s: from=<x@spam%d.example>, size=1, nrcpt=1 (queue active)", ts, qid, i)))
		}
	}
	send(0, 40)
	if n := len(e.Alerts()); n != 1 || len(rechecked) != 0 {
		t.Fatalf("%d alerts, %d rechecks after the takeover", n, len(rechecked))
	}
	due = true
	send(40, 3)
	if n := len(e.Alerts()); n != 1 || len(rechecked) == 0 {
		t.Fatalf("%d alerts, %d rechecks while due", n, len(rechecked))
	}
	if a := rechecked[0]; a.Login != "victim@lab.test" || a.Verdict != "compromised" || len(a.QueueIDs) == 0 {
		t.Errorf("recheck alert %+v", a)
	}
}
