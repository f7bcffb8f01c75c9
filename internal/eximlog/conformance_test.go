package eximlog_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/logline"
)

// corpusDirs are where the shared corpus of public logs may be: beside the
// repository (CI), or the machine's shared folder.
var corpusDirs = []string{"../../../shared/corpus", "/work/shared/corpus"}

var (
	// an arrival whose protocol is authenticated and whose A= names a login
	authArrival = regexp.MustCompile(`^(?:.*exim\d*\[\d+\]: )?\d{4}-\d\d-\d\d [\d:.]+ (?:[+-]\d{4} )?(?:\[\d+\] )?[0-9A-Za-z-]{16,23} <= .* P=[a-z0-9]*smtp[a-z]*a .*?A=([^: ]+):([^: ]+)`)
	// a failed login as Exim logs it on the server side
	authFail = regexp.MustCompile(`(\S+) authenticator failed for .*?: (\d{3}) (.*)$`)
	setID    = regexp.MustCompile(` \(set_id=(.*?)\)(?::|$)`)
	eximID   = regexp.MustCompile(`^\d{4}-\d\d-\d\d [\d:.]+ (?:[+-]\d{4} )?(?:\[\d+\] )?[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} `)
)

// TestCorpusConformance reads the public Exim lines of the shared corpus
// through logline, as scan does: it counts the lines understood, and
// checks that none is misread: every authenticated arrival gives its
// login, every failed login its set_id, every line with a message id is
// taken as Exim's.
func TestCorpusConformance(t *testing.T) {
	dir := ""
	for _, d := range corpusDirs {
		if _, err := os.Stat(d); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Skipf("SKIPPING Exim corpus conformance: none of %v present", corpusDirs)
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasPrefix(rel, "exim-testsuite/") || strings.Contains(rel, "exim") || filepath.Base(rel) == "mainlog" {
			if !strings.HasSuffix(rel, ".yaml") && !strings.HasSuffix(rel, ".assert") && !strings.HasSuffix(rel, ".md") {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("corpus present but no Exim files found")
	}
	var lines, understood, unparsed, other, arrivals, logins, failures, named int
	unread := map[string]int{}
	p := logline.New(2026, time.UTC)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		name := strings.TrimPrefix(f, dir+"/")
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "****") {
				continue
			}
			lines++
			var ev event.Event
			r := p.Parse(line, &ev)
			switch r.Status {
			case logline.Parsed:
				understood++
			case logline.Unparsed:
				unparsed++
				unread[r.Program]++
				t.Logf("%s: not understood (%s): %s", name, r.Program, line)
			default:
				other++ // an ACL's logwrite text, a test harness's own lines
			}
			if eximID.MatchString(line) && r.Status != logline.Parsed && r.Status != logline.Unparsed {
				t.Errorf("%s: a line with a message id not taken as Exim's (%d): %s", name, r.Status, line)
			}
			if m := authArrival.FindStringSubmatch(line); m != nil {
				arrivals++
				if ev.Kind != event.Arrival || ev.Login != strings.ToLower(m[2]) && ev.Login != m[2] || ev.Method != m[1] {
					t.Errorf("%s: arrival misread (kind %s, login %q, method %q; want %q %q): %s", name, ev.Kind, ev.Login, ev.Method, m[2], m[1], line)
				} else {
					logins++
				}
			}
			if m := authFail.FindStringSubmatch(line); m != nil && !strings.Contains(line, "[ip4.ip4.ip4.ip4]") {
				// (the Exim test suite writes some addresses as ip4.ip4.ip4.ip4)
				failures++
				want := ""
				if s := setID.FindStringSubmatch(m[3]); s != nil {
					want = s[1]
				}
				switch {
				case m[2] == "535" && (ev.Kind != event.AuthFailure || ev.Login != want || ev.Method != m[1] || ev.ClientIP == "" && !strings.Contains(line, " for U=")):
					t.Errorf("%s: failed login misread (kind %s, login %q, method %q, ip %q; want %q): %s", name, ev.Kind, ev.Login, ev.Method, ev.ClientIP, want, line)
				case m[2] != "535" && ev.Kind != event.Ignored:
					t.Errorf("%s: a %s reply counted as a failed login: %s", name, m[2], line)
				case m[2] == "535":
					named++
				}
			}
			if strings.Contains(line, " ** ") && eximID.MatchString(line) && (ev.Kind != event.Delivery || ev.Status != "bounced" || ev.Recipient == "") {
				t.Errorf("%s: failure misread (%s %q %q): %s", name, ev.Kind, ev.Status, ev.Recipient, line)
			}
			if strings.Contains(line, " => ") && eximID.MatchString(line) && (ev.Kind != event.Delivery || ev.Status != "sent" || ev.Recipient == "") {
				t.Errorf("%s: delivery misread (%s %q %q): %s", name, ev.Kind, ev.Status, ev.Recipient, line)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if arrivals == 0 || failures == 0 {
		t.Errorf("the corpus gave %d authenticated arrivals and %d failed logins: the patterns are stale", arrivals, failures)
	}
	t.Logf("Exim corpus: %d files, %d lines, %d understood, %d not understood %v, %d not taken as Exim's; %d/%d authenticated arrivals gave their login; %d authenticator failures checked, %d of them 535 failed logins with their set_id",
		len(files), lines, understood, unparsed, unread, other, logins, arrivals, failures, named)
}
