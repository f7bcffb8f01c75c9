package scan_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/scan"
)

// TestContainerLogs scans a generated log with takeovers as container
// runtimes print it: behind docker compose's service name, behind the
// stamp of docker logs -t (or kubectl logs --timestamps), both, and as a
// daemon in the foreground prints it (the stamp, then the tag, no syslog
// header). Every shape finds the stolen logins with the whole log's
// starts, and every login's messages.
func TestContainerLogs(t *testing.T) {
	dir := t.TempDir()
	path, truth := generate(t, dir, loggen.Config{Seed: 1, Size: 8 << 20})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	year := truth.End.Year()
	opts := scan.Options{Year: year}
	plain := runScan(t, opts, path)
	checkTruth(t, plain, truth)

	// stampOf turns a line's classic stamp into docker's RFC 3339 one
	stampOf := func(line []byte) string {
		tm, err := time.Parse("Jan _2 15:04:05", string(line[:15]))
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		return tm.AddDate(year-tm.Year(), 0, 0).Format("2006-01-02T15:04:05.000000000Z")
	}
	shapes := map[string]func(line []byte) string{
		"compose":  func(l []byte) string { return "mailserver  | " + string(l) },
		"docker-t": func(l []byte) string { return stampOf(l) + " " + string(l) },
		"compose+docker-t": func(l []byte) string {
			return "mailserver-1  | " + stampOf(l) + " " + string(l)
		},
		"foreground": func(l []byte) string {
			// "Mar  4 02:04:21 host tag[pid]: msg" -> "STAMP tag[pid]: msg"
			rest := l[16:]
			return stampOf(l) + " " + string(rest[bytes.IndexByte(rest, ' ')+1:])
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			for line := range bytes.Lines(data) {
				b.WriteString(shape(line))
			}
			p := filepath.Join(t.TempDir(), "container.log")
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			res := runScan(t, opts, p)
			if res.Stats.NoEnvelope != 0 || !cmp.Equal(res.Stats.OtherPrograms, plain.Stats.OtherPrograms) || res.Stats.Parsed != plain.Stats.Parsed {
				t.Errorf("%d lines without envelope, other programs %v (plain log: %v), %d understood of the plain log's %d",
					res.Stats.NoEnvelope, res.Stats.OtherPrograms, plain.Stats.OtherPrograms, res.Stats.Parsed, plain.Stats.Parsed)
			}
			checkTruth(t, res, truth)
			if diff := cmp.Diff(compromisedStarts(plain.Correlator.Accounts()), compromisedStarts(res.Correlator.Accounts())); diff != "" {
				t.Errorf("compromised logins and starts, plain (-) and container log (+):\n%s", diff)
			}
			want, got := map[string]int{}, map[string]int{}
			for _, a := range plain.Correlator.Accounts() {
				want[a.Login] = a.Messages
			}
			for _, a := range res.Correlator.Accounts() {
				got[a.Login] = a.Messages
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("messages per login, plain (-) and container log (+):\n%s", diff)
			}
		})
	}
}
