package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/eximlog/eximgen"
)

// eximLog writes a generated Exim main log to a file and returns its path
// and what it holds.
func eximLog(t *testing.T, cfg eximgen.Config) (string, *eximgen.Truth) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mainlog")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := eximgen.Write(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

type scanDoc struct {
	Accounts []struct {
		Login, Verdict  string
		Messages        int
		CompromiseStart string `json:"compromise_start"`
	}
	Stats struct {
		Lines       int64
		Parsed      int64
		Unparsed    map[string]int64 `json:"unparsed_by_program"`
		NoEnvelope  int64            `json:"no_envelope"`
		Correlation struct {
			AuthFailures int `json:"auth_failures"`
			AuthNoLogin  int `json:"auth_without_login"`
		}
	}
}

// TestScanEximTakeover scans Exim main logs of every written form with a
// takeover among ordinary users, a bulk sender and a mistyped password:
// exactly the stolen login is compromised, and watch --once agrees.
func TestScanEximTakeover(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  eximgen.Config
	}{
		{"plain 4.96", eximgen.Config{Seed: 1}},
		{"4.97 ids, millisec, pid, zone", eximgen.Config{Seed: 2, LongIDs: true, Millis: true, PID: true, Zone: true}},
		{"syslog", eximgen.Config{Seed: 3, Syslog: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, truth := eximLog(t, tc.cfg)
			code, out, errs := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--format", "json", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, errs)
			}
			var doc scanDoc
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			s := doc.Stats
			if s.Parsed != s.Lines || len(s.Unparsed) > 0 || s.NoEnvelope > 0 {
				t.Errorf("read %d lines, understood %d, unparsed %v, no envelope %d", s.Lines, s.Parsed, s.Unparsed, s.NoEnvelope)
			}
			if s.Correlation.AuthFailures == 0 || s.Correlation.AuthNoLogin != 0 {
				t.Errorf("correlation stats %+v", s.Correlation)
			}
			want := map[string]string{}
			msgs := 0
			for _, a := range doc.Accounts {
				msgs += a.Messages
				if a.Verdict == "compromised" {
					want[a.Login] = a.CompromiseStart
				}
				if a.Login == truth.Bulk || a.Login == truth.Typo {
					if a.Verdict != "ok" {
						t.Errorf("%s is %s", a.Login, a.Verdict)
					}
				}
			}
			if len(want) != 1 || want[truth.Compromised] == "" {
				t.Errorf("compromised %v, want only %s", want, truth.Compromised)
			}
			if msgs != truth.Messages {
				t.Errorf("scan counted %d messages of logins, the log has %d", msgs, truth.Messages)
			}
			code, wout, errs := runCmd(t, "", "watch", "--once", "--year", "2026", "--tz", "UTC", "--format", "json", path)
			if code != 1 {
				t.Fatalf("watch --once exit %d, want 1: %s", code, errs)
			}
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(wout), "\n") {
				var a struct{ Login, Start string }
				if err := json.Unmarshal([]byte(l), &a); err != nil {
					t.Fatalf("alert line %q: %v", l, err)
				}
				got[a.Login] = a.Start
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("watch --once alerted %v, scan found %v", got, want)
			}
		})
	}
}

// TestScanEximNamelessAuth: arrivals authenticated by an authenticator that
// sets no server_set_id name no login; scan says so.
func TestScanEximNamelessAuth(t *testing.T) {
	log := "2026-03-04 10:00:00 1xWoo6-0000l6-0p <= a@corp.example H=(pc) [192.0.2.1]:4000 P=esmtpa A=plain_server S=400 for b@x.example\n" +
		"2026-03-04 10:00:01 1xWoo6-0000l6-0p => b@x.example R=dnslookup T=remote_smtp H=mx.x.example [192.0.2.9]\n" +
		"2026-03-04 10:00:01 1xWoo6-0000l6-0p Completed\n"
	path := filepath.Join(t.TempDir(), "mainlog")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "", "scan", "--tz", "UTC", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "1 authenticated messages name no login") || !strings.Contains(out, "server_set_id") {
		t.Errorf("scan does not say the login is missing:\n%s", out)
	}
}

func TestExplainExim(t *testing.T) {
	code, out, _ := runCmd(t, "", "explain", "--tz", "UTC",
		"2026-03-04 02:04:21.345 +0100 [4711] 1xWoo6-00000000l6G-0p00 <= x@promo.example H=(ylmf-pc) [192.0.2.66]:46071 P=esmtpsa A=dovecot_login:t.mueller@corp.example S=469 for a@b.example c@d.example")
	if code != 0 {
		t.Fatal(code)
	}
	for _, s := range []string{"format=exim", "time=2026-03-04T01:04:21.345Z", "pid=4711", "parser: exim/arrival", "event:    arrival",
		"login:     t.mueller@corp.example", "clientip:  192.0.2.66", "nrcpt:     2", "1xWoo6-00000000l6G-0p00 (queue id without its dashes)"} {
		if !strings.Contains(out, s) {
			t.Errorf("explain output lacks %q:\n%s", s, out)
		}
	}
}

// TestScanEximRejectLog: a reject log's entries and the header lines after
// them, and the panic log's lines, are all understood; rejections name no
// login without a pid.
func TestScanEximRejectLog(t *testing.T) {
	log := "2026-03-04 10:00:00 H=(pc) [192.0.2.1]:4000 F=<a@b.example> rejected RCPT <c@corp.example>: relay not permitted\n" +
		"2026-03-04 10:00:05 1xWoo6-0000l6-0p H=mx.b.example [192.0.2.2]:25 F=<x@b.example> rejected after DATA: spam score too high\n" +
		"Envelope-from: <x@b.example>\n" +
		"Envelope-to: <c@corp.example>\n" +
		"P Received: from mx.b.example ([192.0.2.2])\n" +
		"\tby mx.corp.example with esmtp (Exim 4.96)\n" +
		"I Message-ID: <1@b.example>\n" +
		"  Subject: cheap\n"
	// and the panic log's lines
	log += "2026-03-04 10:01:00 Cannot open main log file \"/var/log/exim4/mainlog\": Permission denied: euid=101 egid=101\n" +
		"2026-03-04 10:01:01 Exim configuration error in line 812 of /var/lib/exim4/config.autogenerated:\n" +
		"2026-03-04 10:01:02 socket bind() to port 25 for address (any IPv4) failed: Address already in use: waiting 30s before trying again\n"
	path := filepath.Join(t.TempDir(), "rejectlog")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, "", "scan", "--tz", "UTC", "--format", "json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc scanDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Stats; s.Lines != 11 || s.Parsed != 11 || len(doc.Accounts) != 0 {
		t.Errorf("read %d lines, understood %d, accounts %d", s.Lines, s.Parsed, len(doc.Accounts))
	}
}
