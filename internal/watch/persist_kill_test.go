package watch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/follow"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/store"
)

// daemonDirEnv names the state directory of the helper daemon: set, the
// test binary runs TestKillHelperDaemon as a daemon, not as a test.
const daemonDirEnv = "SASLGUARD_TEST_KILL_DAEMON_DIR"

// TestKillHelperDaemon is the daemon that TestKilledDaemonResumes kills: it
// follows DIR/mail.log, checkpoints into the store in DIR every 700 lines
// and at SIGTERM, appends each alert to DIR/alerts and its progress to
// DIR/progress.
func TestKillHelperDaemon(t *testing.T) {
	dir := os.Getenv(daemonDirEnv)
	if dir == "" {
		t.Skip("helper process of TestKilledDaemonResumes")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	path := filepath.Join(dir, "mail.log")
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := os.OpenFile(filepath.Join(dir, "alerts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(alerts)
	eng, cursors, err := Resume(ctx, st, Config{Loc: time.UTC, Sink: func(a Alert) { _ = enc.Encode(a) }})
	if err != nil {
		t.Fatal(err)
	}
	if cursors == nil {
		eng.SetYear(path, 2026)
	}
	g := NewGuarded(eng)
	f := follow.New(follow.Config{Paths: []string{path}, Cursors: cursors, Waker: follow.NewTicker(ctx, 3*time.Millisecond)})
	cp := NewCheckpointer(st, g, f, CheckpointOptions{EveryLines: 700})
	go func() {
		for ctx.Err() == nil {
			n := g.Status(time.Now(), 0).Stats.Lines
			tmp := filepath.Join(dir, "progress.tmp")
			if os.WriteFile(tmp, []byte(strconv.FormatInt(n, 10)), 0o644) == nil {
				_ = os.Rename(tmp, filepath.Join(dir, "progress"))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := f.Run(ctx, cp.Line); err != context.Canceled {
		t.Fatal(err)
	}
	if err := cp.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestKilledDaemonResumes: a daemon process following a growing log is
// killed with SIGKILL mid-stream several times and restarted; in the end
// it has counted every line once and reached the state, verdicts and
// alerts of an uninterrupted replay. Alerts may be raised again after a
// kill (those after the last checkpoint), never ones the replay did not
// raise, and none is lost.
func TestKilledDaemonResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	var logBuf bytes.Buffer
	if _, err := loggen.Generate(&logBuf, loggen.Config{Seed: 7, Size: 3 << 20}); err != nil {
		t.Fatal(err)
	}
	data := logBuf.Bytes()
	total := int64(bytes.Count(data, []byte("\n")))
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(os.Args[0], "-test.run=^TestKillHelperDaemon$", "-test.count=1")
		cmd.Env = append(os.Environ(), daemonDirEnv+"="+dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	progress := func() int64 {
		b, _ := os.ReadFile(filepath.Join(dir, "progress"))
		n, _ := strconv.ParseInt(string(b), 10, 64)
		return n
	}
	start()
	kills := 0
	const chunk = 64 << 10
	for off := 0; off < len(data); off += chunk {
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.Write(data[off:min(off+chunk, len(data))]); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		time.Sleep(15 * time.Millisecond)
		if (off/chunk)%8 == 3 {
			// mid-stream: the daemon is reading what was just written
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			kills++
			os.Remove(filepath.Join(dir, "progress"))
			start()
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for progress() != total {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon read %d of %d lines", progress(), total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon: %v", err)
	}

	// the uninterrupted replay
	ref := New(Config{Loc: time.UTC})
	ref.SetYear(path, 2026)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		ref.Line(path, bytes.Clone(sc.Bytes()))
	}
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, _, err := Resume(context.Background(), st, Config{Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if got.Stats != ref.Stats || got.Stats.Lines != total {
		t.Errorf("stats %+v, want %+v (%d lines)", got.Stats, ref.Stats, total)
	}
	if !bytes.Equal(saveBytes(t, got), saveBytes(t, ref)) {
		t.Error("the resumed daemon's state differs from the uninterrupted replay's")
	}
	if fmt.Sprint(got.Alerts()) != fmt.Sprint(ref.Alerts()) || len(ref.Alerts()) < 3 {
		t.Errorf("alerts %v, want %v", got.Alerts(), ref.Alerts())
	}
	raised, err := os.ReadFile(filepath.Join(dir, "alerts"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, a := range ref.Alerts() {
		b, _ := json.Marshal(a)
		want[string(b)] = true
	}
	seen := map[string]int{}
	for line := range strings.Lines(string(raised)) {
		line = strings.TrimSuffix(line, "\n")
		if !want[line] {
			t.Errorf("alert the replay did not raise: %s", line)
		}
		seen[line]++
	}
	for a := range want {
		if seen[a] == 0 {
			t.Errorf("alert never raised: %s", a)
		}
	}
	t.Logf("%d lines, %d kills, %d alerts raised %d times", total, kills, len(want), strings.Count(string(raised), "\n"))
}
