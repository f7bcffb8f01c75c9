package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
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

// Every threshold of [detect] reaches the detector: a value set in the file
// is the value detect.Config holds.
func TestEveryThresholdIsWired(t *testing.T) {
	for _, ti := range detect.ThresholdTable() {
		// raise the key and every key that must not be below it
		text := "[detect]\n"
		v := 1000
		text += fmt.Sprintf("%s = %d\n", ti.Key, v)
		for _, up := range tiersAbove(ti.Key) {
			text += fmt.Sprintf("%s = %d\n", up, v)
		}
		c, err := Parse(text)
		if err != nil {
			t.Errorf("%s: %v", ti.Key, err)
			continue
		}
		dc := c.DetectConfig()
		if got := ti.Get(&dc.Thresholds); got != v {
			t.Errorf("%s = %d in the file, %d in the detector's configuration", ti.Key, v, got)
		}
		if !strings.Contains(Example, fmt.Sprintf("\n%s = %d\n", ti.Key, ti.Default)) {
			t.Errorf("the example lacks %s = %d", ti.Key, ti.Default)
		}
	}
}

// tiersAbove lists the keys that must be at least key.
func tiersAbove(key string) []string {
	chains := [][]string{
		{"few_foreign_domains", "min_foreign_domains", "more_foreign_domains", "many_foreign_domains"},
		{"new_ips", "more_new_ips", "many_new_ips"},
		{"rejections", "many_rejections"},
		{"failed_logins", "many_failed_logins"},
	}
	for _, c := range chains {
		for i, k := range c {
			if k == key {
				return c[i+1:]
			}
		}
	}
	return nil
}

func TestThresholdErrors(t *testing.T) {
	for text, want := range map[string]string{
		"[detect]\nnew_ips = 0":             "detect.new_ips must be between 1 and 1000000, not 0",
		"[detect]\nbounces = -3":            "detect.bounces must be between 1 and 1000000",
		"[detect]\nloud_volume = 10000000":  "detect.loud_volume must be between",
		"[detect]\nnew_ips = \"many\"":      "new_ips",
		"[detect]\nmin_foreign_domains = 7": "min_foreign_domains <= more_foreign_domains",
		"[detect]\nmin_foreign_domains = 1": "few_foreign_domains <= min_foreign_domains",
		"[detect]\nmin_foreign_domain = 3":  "unknown key(s): detect.min_foreign_domain",
		"[detect]\nmany_rejections = 2":     "rejections <= many_rejections",
		"[detect]\nmany_failed_logins = 2":  "failed_logins <= many_failed_logins",
	} {
		_, err := Parse(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}
