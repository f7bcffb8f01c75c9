package scan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/scan"
)

// incidentTruth is what internal/testlab/cmd/record wrote beside each log.
type incidentTruth struct {
	Compromised []string `json:"compromised"`
	Legitimate  []string `json:"legitimate"`
	BruteForced []string `json:"brute_forced_never_compromised"`
	AttackerIPs []string `json:"attacker_ips"`
	Counts      map[string]int
}

// TestRecordedIncidents scans the logs recorded from a real Postfix and
// Dovecot (testdata/incidents, made by internal/testlab/cmd/record): every
// takeover is flagged, no legitimate login is.
func TestRecordedIncidents(t *testing.T) {
	truths, _ := filepath.Glob("../../testdata/incidents/*.truth.json")
	if len(truths) < 3 {
		t.Fatalf("expected the recorded incidents, found %d", len(truths))
	}
	for _, tf := range truths {
		name := strings.TrimSuffix(filepath.Base(tf), ".truth.json")
		t.Run(name, func(t *testing.T) {
			var truth incidentTruth
			data, err := os.ReadFile(tf)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &truth); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Dir(tf)
			res := runScan(t, scan.Options{Year: 2026, Loc: time.UTC},
				filepath.Join(dir, name+".maillog"), filepath.Join(dir, name+".dovecot.log"))
			if n := sumMap(res.Stats.Unparsed); n != 0 {
				t.Errorf("%d lines of real Postfix/Dovecot output not understood: %v", n, res.Stats.Unparsed)
			}
			for _, login := range truth.Compromised {
				a := res.Correlator.Account(login)
				if a == nil || a.Detector().Verdict() != detect.Compromised {
					t.Errorf("takeover of %s not flagged: %+v", login, a)
					continue
				}
				// every spam message was sent from an attacker address
				attacker := map[string]bool{}
				for _, ip := range truth.AttackerIPs {
					attacker[ip] = true
				}
				if ip := a.Detector().Best().FirstNewIP; ip != "" && !attacker[ip] {
					t.Errorf("%s: the start is dated by %s, which the attacker did not use", login, ip)
				}
				if want := truth.Counts["spam_messages"]; want > 0 && a.Messages < want {
					t.Errorf("%s: %d messages counted, the recorder sent %d spam", login, a.Messages, want)
				}
				if want := truth.Counts["spam_with_unknown_local_rcpt"]; want > 0 && a.Bounces == 0 {
					t.Errorf("%s: no bounce attributed, the recorder caused %d", login, want)
				}
				if want := truth.Counts["spam_via_content_filter"]; want > 0 && a.FilterCopies < want {
					t.Errorf("%s: %d filter copies, the recorder sent %d through the filter", login, a.FilterCopies, want)
				}
				if want := truth.Counts["victim_auth_failures"]; want > 0 && a.FailedLogins < want {
					t.Errorf("%s: %d failed logins, the recorder made %d", login, a.FailedLogins, want)
				}
			}
			for _, login := range truth.Legitimate {
				if a := res.Correlator.Account(login); a != nil && a.Detector().Verdict() != detect.OK {
					t.Errorf("legitimate %s flagged %v: %q", login, a.Detector().Verdict(), detect.Reasons(a.Detector().Best(), time.UTC))
				}
			}
		})
	}
}
