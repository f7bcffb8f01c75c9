package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/scan"
	"github.com/saslguard/saslguard/internal/watch"
)

// grepLines keeps the lines of data that contain word, as grep does.
func grepLines(data []byte, word string) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(data) {
		if bytes.Contains(line, []byte(word)) {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// TestGrepExcerpt scans the runbook's first step, `grep sasl_username`, of
// generated logs: smtpd's client lines and the failed logins, without qmgr
// lines. Every login's messages and client IPs are counted as in the whole
// log, the loud burst from new IPs is found compromised with its start,
// no innocent login is, and watch --once agrees with scan.
func TestGrepExcerpt(t *testing.T) {
	for _, seed := range []uint64{2, 5} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			path, truth := generate(t, dir, loggen.Config{Seed: seed, Size: 8 << 20})
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			excerpt := filepath.Join(dir, "excerpt.log")
			if err := os.WriteFile(excerpt, grepLines(data, "sasl_username"), 0o644); err != nil {
				t.Fatal(err)
			}
			opts := scan.Options{Year: truth.End.Year()}
			whole := runScan(t, opts, path)
			res := runScan(t, opts, excerpt)

			type counts struct{ Messages, IPs int }
			want, got := map[string]counts{}, map[string]counts{}
			for _, a := range whole.Correlator.Accounts() {
				if a.Messages > 0 {
					want[a.Login] = counts{a.Messages, a.IPs.Len()}
				}
			}
			for _, a := range res.Correlator.Accounts() {
				if a.Messages > 0 {
					got[a.Login] = counts{a.Messages, a.IPs.Len()}
				}
			}
			if len(want) < 20 {
				t.Fatalf("only %d logins sent mail in the whole log", len(want))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("messages and client IPs per login, whole log (-) and excerpt (+):\n%s", diff)
			}

			loud := 0
			for _, c := range truth.Compromised {
				if c.Kind != "loud-burst" {
					continue
				}
				loud++
				a := res.Correlator.Account(c.Login)
				if a == nil || a.Detector().Verdict() != detect.Compromised {
					t.Errorf("loud burst of %s not found compromised in the excerpt", c.Login)
					continue
				}
				if d := a.Detector().Start().Sub(c.Start); d < -time.Minute || d > 5*time.Minute {
					t.Errorf("loud burst of %s: start %v, truth %v", c.Login, a.Detector().Start(), c.Start)
				}
			}
			if loud == 0 {
				t.Fatal("the generator placed no loud burst")
			}
			for _, login := range truth.Legitimate {
				if a := res.Correlator.Account(login); a != nil && a.Detector().Verdict() == detect.Compromised {
					t.Errorf("innocent %s found compromised in the excerpt: %q", login, detect.Reasons(a.Detector().Best(), time.UTC))
				}
			}

			set, err := logsrc.Open([]string{excerpt}, logsrc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e := watch.New(watch.Config{Loc: time.UTC})
			if err := e.Replay(context.Background(), set, truth.End.Year()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(compromisedStarts(res.Correlator.Accounts()), compromisedStarts(e.Correlator().Accounts())); diff != "" {
				t.Errorf("compromised logins and starts, scan (-) and watch --once (+):\n%s", diff)
			}
		})
	}
}

// TestPaste: a few lines pasted into a ticket, smtpd's client lines only,
// some without a stamp's padding, count as the login's messages.
func TestPaste(t *testing.T) {
	paste := `Mar  4 02:04:21 mail postfix/submission/smtpd[2211]: 4Q1ZxK3mNbz9sWq: client=unknown[185.167.232.210]:51234, sasl_method=LOGIN, sasl_username=dmartinez@corp.example
Mar  4 02:04:25 mail postfix/submission/smtpd[2211]: 4Q1ZxP0c7Rz9sWr: client=unknown[185.167.232.210]:51234, sasl_method=LOGIN, sasl_username=dmartinez@corp.example
Mar  4 02:04:31 mail postfix/submission/smtpd[2213]: 4Q1ZxW1dGkz9sWs: client=unknown[103.4.93.202]:40022, sasl_method=LOGIN, sasl_username=dmartinez@corp.example
Mar 4 02:05:02 mail postfix/submission/smtpd[2214]: 4Q1Zy12vHqz9sWt: client=unknown[195.210.167.91]:33001, sasl_method=PLAIN, sasl_username=dmartinez@corp.example
`
	res := scanPipe(t, paste, scan.Options{Year: 2026, Loc: time.UTC})
	a := account(t, res, "dmartinez@corp.example")
	if a.Messages != 4 || a.IPs.Len() != 3 {
		t.Errorf("messages %d from %d IPs, want 4 from 3", a.Messages, a.IPs.Len())
	}
	if want := time.Date(2026, 3, 4, 2, 4, 21, 0, time.UTC); !a.First.Equal(want) {
		t.Errorf("first seen %v, want %v", a.First, want)
	}
	if !strings.Contains(a.Method, "LOGIN") {
		t.Errorf("method %q", a.Method)
	}
}

// compromisedStarts maps each compromised login to its likely start.
func compromisedStarts(accts []*correlate.Account) map[string]time.Time {
	out := map[string]time.Time{}
	for _, a := range accts {
		if a.Detector().Verdict() == detect.Compromised {
			out[a.Login] = a.Detector().Start()
		}
	}
	return out
}
