package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/detect"
)

// The JSON names, for each compromised login, the rules that made the
// verdict: a sending rule, and score rules whose points reach the
// compromised score.
func TestScanJSONListsTheRulesThatFired(t *testing.T) {
	_, out, _ := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--format", "json", example)
	var doc struct {
		Accounts []struct {
			Login, Verdict string
			Rules          []struct {
				Name    string
				Points  int
				Figures map[string]int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	kind := map[string]detect.Kind{}
	for _, r := range detect.RuleTable() {
		kind[r.Name] = r.Kind
	}
	compromised := 0
	for _, a := range doc.Accounts {
		if a.Rules == nil {
			t.Errorf("%s: no rules key", a.Login)
		}
		if a.Verdict != "compromised" {
			continue
		}
		compromised++
		points, sending := 0, false
		for _, r := range a.Rules {
			k, ok := kind[r.Name]
			if !ok {
				t.Errorf("%s: unknown rule %q", a.Login, r.Name)
			}
			if len(r.Figures) == 0 {
				t.Errorf("%s: rule %s without figures", a.Login, r.Name)
			}
			points += r.Points
			sending = sending || k == detect.Sending
		}
		if !sending || points < detect.DefaultConfig().CompromisedScore {
			t.Errorf("%s: compromised on rules %+v", a.Login, a.Rules)
		}
	}
	if compromised == 0 {
		t.Fatal("no compromised login in the example")
	}
}

func TestScanTextShowsRulesWithinTheTerminal(t *testing.T) {
	_, out, _ := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", example)
	in := false
	n := 0
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "  rules: "):
			in, n = true, n+1
		case !strings.HasPrefix(l, "         "):
			in = false
		}
		if in && len(l) > 100 {
			t.Errorf("rules line of %d characters: %q", len(l), l)
		}
	}
	if n == 0 {
		t.Errorf("no rules line in\n%s", out)
	}
}

func TestScanExplainLogin(t *testing.T) {
	var truth truthFile
	data, err := os.ReadFile("../../examples/mail.log.truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &truth); err != nil || len(truth.Compromised) == 0 {
		t.Fatalf("truth: %v", err)
	}
	login := truth.Compromised[0].Login
	code, out, errs := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--explain-login", strings.ToUpper(login), example)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, login+": ") || !strings.Contains(out, "verdict at the end: compromised") {
		t.Errorf("timeline:\n%s", out)
	}
	// the verdict rises to compromised on a line of its own, after a
	// stamped line where a sending rule fires
	rise := regexp.MustCompile(`(?m)^ +verdict (ok|suspicious) -> compromised$`)
	if !rise.MatchString(out) {
		t.Errorf("no rise to compromised in\n%s", out)
	}
	stamped := regexp.MustCompile(`(?m)^2026-\d\d-\d\d \d\d:\d\d:\d\d  score +\d+ +(ok|suspicious|compromised) +[+~-]\w+`)
	if !stamped.MatchString(out) {
		t.Errorf("no stamped rule change in\n%s", out)
	}
	sendingFired := false
	for _, r := range detect.RuleTable() {
		if r.Kind == detect.Sending && strings.Contains(out, "+"+r.Name+" (") {
			sendingFired = true
		}
	}
	if !sendingFired {
		t.Errorf("no sending rule fired in\n%s", out)
	}
	if code, _, errs := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--explain-login", "nobody@nowhere.example", example); code != 2 || !strings.Contains(errs, "not in the log") {
		t.Errorf("unknown login: exit %d, %q", code, errs)
	}
}
