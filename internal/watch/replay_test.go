package watch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/logsrc"
)

// replaySet replays files through a new engine, in small chunks so that
// lines meet chunk ends and the groups wait on one another often.
func replaySet(t *testing.T, year int, files ...string) *Engine {
	t.Helper()
	set, err := logsrc.Open(files, logsrc.Options{ChunkSize: 4 << 10, MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{Loc: time.UTC})
	if err := e.Replay(context.Background(), set, year); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestReplayMergesSideBySideLogs: a generated log split into mail.log and
// dovecot.log replays to the alerts and counts of the whole log.
func TestReplayMergesSideBySideLogs(t *testing.T) {
	path, truth := generate(t, loggen.Config{Seed: 1, Size: 4 << 20})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mail, dove strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.Contains(line, " dovecot: ") {
			dove.WriteString(line)
		} else {
			mail.WriteString(line)
		}
	}
	dir := t.TempDir()
	end := truth.End
	for name, text := range map[string]string{"mail.log": mail.String(), "dovecot.log": dove.String()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, end, end); err != nil {
			t.Fatal(err)
		}
		end = end.Add(time.Second)
	}
	year := truth.End.Year()
	want := replaySet(t, year, path)
	if len(want.Alerts()) < 4 {
		t.Fatalf("the whole log raised %d alerts", len(want.Alerts()))
	}
	got := replaySet(t, year, filepath.Join(dir, "dovecot.log"), filepath.Join(dir, "mail.log"))
	if !reflect.DeepEqual(got.Alerts(), want.Alerts()) {
		t.Errorf("side by side: alerts\n%+v\nwhole log:\n%+v", got.Alerts(), want.Alerts())
	}
	if got.Stats != want.Stats {
		t.Errorf("side by side: %+v, whole log: %+v", got.Stats, want.Stats)
	}
}

// TestReplayReadsEveryLineOnce: hostile bytes in several groups (no
// envelope, bad stamps, CR, empty lines, no final newline, stamps going
// back) are each fed to the engine once, and nothing panics or hangs.
func TestReplayReadsEveryLineOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	dir := t.TempDir()
	pieces := []string{
		"Nov 20 10:00:%02d mx1 dovecot: auth: Info: passwd-file(u%d@corp.example,203.0.113.9): Password mismatch",
		"2026-11-20T10:%02d:00Z mx1 postfix/qmgr[9]: 0000A%05d: removed",
		"Nov 31 99:%02d:00 mx1 x: %d",
		"<13>1 2026-11-20T10:%02d:00Z - - - - %d",
		"{\"MESSAGE\":\"%02d %d\"}",
		"Dec  1 00:00:%02d mx1 dovecot: %d",
		"",
		"\r",
		"\x00\xff%02d\x1b[31m%d",
	}
	var files []string
	want := int64(0)
	for i, name := range []string{"mail.log.1", "mail.log", "dovecot.log", "mx2/mail.log", "mx3/dovecot.log"} {
		var b strings.Builder
		n := 50 + rng.IntN(200)
		for j := 0; j < n; j++ {
			p := pieces[rng.IntN(len(pieces))]
			if j == 0 || j == n-1 {
				// a line of its own: the first lines of mail.log that
				// repeat the last of mail.log.1 are a copytruncate
				// overlap, skipped
				p = pieces[0]
			}
			if strings.Contains(p, "%") {
				p = fmt.Sprintf(p, rng.IntN(60), i*1000+j)
			}
			b.WriteString(p)
			if j < n-1 || i%2 == 0 {
				b.WriteString("\n")
			}
		}
		want += int64(n)
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2026, 11, 20, 12, 0, i, 0, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	e := replaySet(t, 2026, files...)
	if e.Stats.Lines != want {
		t.Errorf("%d lines fed, want %d", e.Stats.Lines, want)
	}
}

// TestReplayCancelled: a cancelled replay returns the cancellation.
func TestReplayCancelled(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"mail.log", "dovecot.log"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("Nov 20 10:00:00 mx1 x: y\n", 10000)), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	set, err := logsrc.Open(files, logsrc.Options{ChunkSize: 4 << 10, MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(Config{Loc: time.UTC}).Replay(ctx, set, 2026); !errors.Is(err, context.Canceled) {
		t.Errorf("Replay: %v, want context.Canceled", err)
	}
}
