package testlab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRecordedIncidents checks that the recordings under testdata/incidents
// say what their truth files claim (they are inputs to other packages'
// tests, so a bad recording must not slip in). It needs no servers.
func TestRecordedIncidents(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "incidents")
	truths, _ := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if len(truths) == 0 {
		t.Skip("no recorded incidents")
	}
	loginRe := regexp.MustCompile(`\]: (\w+): client=[^,]+\[(127\.[0-9.]+)\], sasl_method=\w+, sasl_username=(\S+)$`)
	for _, tf := range truths {
		name := strings.TrimSuffix(filepath.Base(tf), ".truth.json")
		t.Run(name, func(t *testing.T) {
			var truth struct {
				Compromised  []string       `json:"compromised"`
				Legitimate   []string       `json:"legitimate"`
				LongQueueIDs bool           `json:"long_queue_ids"`
				Counts       map[string]int `json:"counts"`
				SpamQueueIDs []string       `json:"spam_queue_ids"`
			}
			b, err := os.ReadFile(tf)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &truth); err != nil {
				t.Fatal(err)
			}
			logb, err := os.ReadFile(filepath.Join(dir, name+".maillog"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, name+".dovecot.log")); err != nil {
				t.Error(err)
			}
			logins := map[string]int{}
			ids := map[string]string{}
			for _, line := range strings.Split(string(logb), "\n") {
				if m := loginRe.FindStringSubmatch(line); m != nil {
					logins[m[3]]++
					ids[m[1]] = m[3]
				}
			}
			for _, l := range append(append([]string{}, truth.Compromised...), truth.Legitimate...) {
				if logins[l] == 0 {
					t.Errorf("%s never logged in in %s.maillog", l, name)
				}
			}
			for l := range logins {
				if !contains(truth.Compromised, l) && !contains(truth.Legitimate, l) {
					t.Errorf("login %s in the log is in neither list", l)
				}
			}
			if len(truth.SpamQueueIDs) != truth.Counts["spam_messages"] {
				t.Errorf("%d spam queue ids, %d spam messages", len(truth.SpamQueueIDs), truth.Counts["spam_messages"])
			}
			for _, id := range truth.SpamQueueIDs {
				if got := ids[id]; !contains(truth.Compromised, got) {
					t.Errorf("spam queue id %s belongs to %q in the log", id, got)
				}
			}
			re := shortID
			if truth.LongQueueIDs {
				re = longID
			}
			for id := range ids {
				if !re.MatchString(id) {
					t.Errorf("queue id %s has the wrong form (long=%v)", id, truth.LongQueueIDs)
				}
			}
			if len(truth.Compromised) > 0 {
				for _, want := range []string{"sender non-delivery notification", "status=sent (250 2.0.0 Ok: queued as ", "SASL PLAIN authentication failed"} {
					if !strings.Contains(string(logb), want) {
						t.Errorf("%s.maillog lacks %q", name, want)
					}
				}
			}
		})
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
