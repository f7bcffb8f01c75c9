package config

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	c, err := Parse(`
[scan]
own_domains = ["corp.example", "corp-mail.example"]
trusted_networks = ["192.0.2.0/24", "2001:db8::1"]
allow_logins = ["Newsletter@corp.example"]
timezone = "UTC"
[detect]
window = "6h"
compromised_score = 9
`)
	if err != nil {
		t.Fatal(err)
	}
	dc := c.DetectConfig()
	if dc.Window != 6*time.Hour || dc.CompromisedScore != 9 || dc.SuspiciousScore != 5 || len(dc.TrustedNets) != 2 {
		t.Errorf("detect config %+v", dc)
	}
	if !c.Allow()["newsletter@corp.example"] {
		t.Error("allowlist is not case-insensitive")
	}
	if loc, _ := c.Location(); loc != time.UTC {
		t.Errorf("location %v", loc)
	}
}

func TestErrors(t *testing.T) {
	for text, want := range map[string]string{
		"[scan]\nown_domain = []":                      "unknown key(s): scan.own_domain",
		"[scna]\nx = 1":                                "unknown key(s)",
		"[scan]\ntrusted_networks = [\"10.0.0.0/33\"]": "trusted_networks",
		"[scan]\nown_domains = [\"a b\"]":              "own_domains",
		"[scan]\ntimezone = \"Nowhere/City\"":          "scan.timezone",
		"[detect]\nwindow = \"fortnight\"":             "duration",
		"[detect]\nwindow = \"1s\"":                    "detect.window",
		"[detect]\ncompromised_score = 2":              "suspicious_score <= compromised_score",
		"[detect]\nbaseline_days = 30":                 "baseline_days",
		"not toml at all [":                            "",
	} {
		_, err := Parse(text)
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %q lacks %q", text, err, want)
		}
	}
}
