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
			for _, al := range e.Alerts() {
				if _, dup := got[al.Login]; dup {
					t.Errorf("two alerts for %s", al.Login)
				}
				got[al.Login] = al.Start
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
	if len(got) != 1 || got[0].Login != "evil\n\"login" || wh.Failed != 0 {
		t.Fatalf("received %+v, failed %d", got, wh.Failed)
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
