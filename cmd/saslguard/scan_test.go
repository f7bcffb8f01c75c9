package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/policy"
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
	} {
		if code, _, _ := runCmd(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
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
