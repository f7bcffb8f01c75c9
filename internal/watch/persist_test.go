package watch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/follow"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/store"
)

func saveBytes(t *testing.T, e *Engine) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSaveKeepsYearState: a classic syslog log that crosses into a new
// year goes on in the new year after a save and a load.
func TestSaveKeepsYearState(t *testing.T) {
	e := New(Config{Loc: time.UTC})
	e.SetYear("m", 2025)
	e.Line("m", []byte("Dec 31 23:59:58 mx1 postfix/smtpd[1]: ABC122: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=a@x.test"))
	e.Line("m", []byte("Jan  1 00:00:01 mx1 postfix/smtpd[1]: ABC123: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=a@x.test"))
	if y := e.Newest().Year(); y != 2026 {
		t.Fatalf("before the save: year %d", y)
	}
	e2, err := Load(bytes.NewReader(saveBytes(t, e)), Config{Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	e2.Line("m", []byte("Jan  1 00:00:05 mx1 postfix/cleanup[2]: ABC123: message-id=<x@x.test>"))
	if y := e2.Newest().Year(); y != 2026 {
		t.Fatalf("after the load: year %d", y)
	}
	fs := e2.files["m"]
	if yf := fs.fix.State(); fs.year != 2025 || yf.Offset != 1 || !yf.Init {
		t.Fatalf("file state %+v, fixer %+v", fs, yf)
	}
	if e2.Stats.Lines != 3 || e2.Stats.Parsed != 3 || e2.Correlator().Account("a@x.test") == nil {
		t.Fatalf("stats %+v", e2.Stats)
	}
}

// TestLoadDamaged: a damaged or truncated state is an error, never a panic.
func TestLoadDamaged(t *testing.T) {
	e := New(Config{Loc: time.UTC})
	e.SetYear("m", 2026)
	e.Line("m", []byte("Mar  1 00:00:01 mx1 postfix/smtpd[1]: ABC123: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=a@x.test"))
	good := saveBytes(t, e)
	if _, err := Load(bytes.NewReader(good), Config{}); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 5, len(engineMagic) + 3, len(engineMagic) + 20, len(good) / 2, len(good) - 1} {
		if _, err := Load(bytes.NewReader(good[:cut]), Config{}); err == nil {
			t.Errorf("truncated to %d bytes: no error", cut)
		}
	}
	for i := len(engineMagic); i < len(good); i += 7 {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		if _, err := Load(bytes.NewReader(b), Config{}); err == nil {
			t.Errorf("byte %d flipped: no error", i)
		}
	}
}

// sunkAlert is an alert as a sink saw it, with the number of checkpoints
// saved before it.
type sunkAlert struct {
	Alert
	saves int64
	line  int64
}

type restartRun struct {
	st     *store.Store
	g      *Guarded
	eng    *Engine
	f      *follow.Follower
	cp     *Checkpointer
	w      *follow.TestWaker
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	lines  int
	sunk   []sunkAlert
}

var errCrash = errors.New("simulated kill -9")

// startRun starts a daemon on path with the state in dir: it resumes from
// the store, and "crashes" (returns without saving) before its line number
// crashAt (never when crashAt is 0).
func startRun(t *testing.T, dir, path string, every, crashAt int) *restartRun {
	t.Helper()
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &restartRun{st: st, w: follow.NewTestWaker(), done: make(chan error, 1)}
	cfg := Config{Loc: time.UTC, Sink: func(a Alert) {
		r.sunk = append(r.sunk, sunkAlert{a, r.cp.Stats().Saves, r.eng.Stats.Lines})
	}}
	eng, cursors, err := Resume(context.Background(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cursors == nil {
		eng.SetYear(path, 2026)
	}
	r.eng, r.g = eng, NewGuarded(eng)
	r.f = follow.New(follow.Config{Paths: []string{path}, Cursors: cursors, Waker: r.w})
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r.cp = NewCheckpointer(st, r.g, r.f, CheckpointOptions{EveryLines: every, Every: time.Hour,
		Now: func() time.Time { return clock }})
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go func() {
		r.done <- r.f.Run(r.ctx, func(l follow.Line) error {
			if crashAt > 0 && r.lines+1 == crashAt {
				r.cancel()
				return errCrash
			}
			r.lines++
			return r.cp.Line(l)
		})
	}()
	return r
}

// poll makes the follower read what is there; it reports whether the run
// crashed.
func (r *restartRun) poll(t *testing.T) bool {
	t.Helper()
	if err := r.w.Poll(r.ctx); err != nil {
		if err := <-r.done; !errors.Is(err, errCrash) {
			t.Fatalf("run ended: %v", err)
		}
		r.st.Close()
		return true
	}
	return false
}

// stop ends the run cleanly, with a final save.
func (r *restartRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run ended: %v", err)
	}
	if err := r.cp.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.st.Close()
}

// TestRestartCountsEveryLineOnce: a daemon that follows a growing, rotated
// log and is killed (no final save) at several points, and restarted from
// the store each time, ends with exactly the state of a daemon that ran
// without interruption: every line counted once, the same compromised
// logins with the same start and score, the same alerts. Alerts raised
// after the last checkpoint before a crash are raised again (at least
// once), and only those.
func TestRestartCountsEveryLineOnce(t *testing.T) {
	var log bytes.Buffer
	if _, err := loggen.Generate(&log, loggen.Config{Seed: 5, Size: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	data := log.Bytes()
	// chunks cut at odd byte offsets: lines arrive in pieces
	var chunks [][]byte
	for off, i := 0, 0; off < len(data); i++ {
		n := min(len(data)-off, 40000+i*7919%60000)
		chunks = append(chunks, data[off:off+n])
		off += n
	}
	rotateAt := len(chunks) / 2

	run := func(t *testing.T, crashes []int) (*Engine, []byte, []sunkAlert, int) {
		dir := t.TempDir()
		path := filepath.Join(dir, "mail.log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var sunk []sunkAlert
		repeats := 0
		next := 0
		crashAt := func() int {
			if next < len(crashes) {
				next++
				return crashes[next-1]
			}
			return 0
		}
		r := startRun(t, dir, path, 997, crashAt())
		crashed := func() {
			// alerts after the run's last checkpoint will be raised again
			saves := r.cp.Stats().Saves
			for _, a := range r.sunk {
				if a.saves == saves {
					repeats++
				}
			}
			sunk = append(sunk, r.sunk...)
			r = startRun(t, dir, path, 997, crashAt())
		}
		for i, c := range chunks {
			if i == rotateAt {
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
			}
			fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.Write(c); err != nil {
				t.Fatal(err)
			}
			fh.Close()
			for r.poll(t) {
				crashed()
			}
		}
		// the rotated file is finished within the grace polls
		for range follow.DefaultRotateGrace + 1 {
			for r.poll(t) {
				crashed()
			}
		}
		r.stop(t)
		sunk = append(sunk, r.sunk...)
		// a last restart loads what the clean stop saved
		st, err := store.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		loaded, _, err := Resume(context.Background(), st, Config{Loc: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		if a, b := saveBytes(t, r.eng), saveBytes(t, loaded); !bytes.Equal(a, b) {
			t.Error("the state loaded after a clean stop differs from the running engine's")
		}
		var corr bytes.Buffer
		if err := r.eng.Correlator().Snapshot(&corr); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d restarts", next)
		return r.eng, corr.Bytes(), sunk, repeats
	}

	ref, refState, refSunk, _ := run(t, nil)
	if ref.Stats.Lines < 10000 || len(ref.Alerts()) < 3 {
		t.Fatalf("reference run: %+v, %d alerts", ref.Stats, len(ref.Alerts()))
	}
	// the follower reuses its buffer: what the detector kept of the lines
	// (the sender domains of its window) must still be what they said
	for _, a := range ref.Correlator().Accounts() {
		for _, d := range a.Detector().Best().TopForeign {
			if !a.ForeignDomains.Has(d) {
				t.Errorf("%s: the detector reports foreign domain %q, which the login never used", a.Login, d)
			}
		}
	}
	// the second case kills the first run just after the first alert, so
	// that the alert is raised again
	for _, crashes := range [][]int{
		{5000, 1, 997, 998, 12000, 3000},
		{int(refSunk[0].line) + 3, 1994, 20000, 333},
	} {
		t.Run(fmt.Sprint(crashes), func(t *testing.T) {
			e, state, sunk, repeats := run(t, crashes)
			if e.Stats != ref.Stats {
				t.Errorf("stats %+v, want %+v", e.Stats, ref.Stats)
			}
			for _, a := range ref.Correlator().Accounts() {
				b := e.Correlator().Account(a.Login)
				if b == nil {
					t.Errorf("%s missing", a.Login)
					continue
				}
				da, db := a.Detector(), b.Detector()
				if da.Verdict() != db.Verdict() || da.Score() != db.Score() || !da.Start().Equal(db.Start()) ||
					a.Messages != b.Messages || a.FailedLogins != b.FailedLogins || !slices.Equal(a.QueueIDs, b.QueueIDs) {
					t.Errorf("%s: %v score %d start %v messages %d, want %v score %d start %v messages %d", a.Login,
						db.Verdict(), db.Score(), db.Start(), b.Messages, da.Verdict(), da.Score(), da.Start(), a.Messages)
				}
			}
			if fmt.Sprint(e.Alerts()) != fmt.Sprint(ref.Alerts()) {
				t.Errorf("alerts %v, want %v", e.Alerts(), ref.Alerts())
			}
			if !bytes.Equal(state, refState) {
				t.Error("final correlator state differs from the uninterrupted run's")
			}
			// every alert reached the sink; the repeats are exactly the
			// alerts raised after a crashed run's last checkpoint
			seen := map[string]int{}
			for _, a := range sunk {
				seen[fmt.Sprint(a.Alert)]++
			}
			for _, a := range refSunk {
				if seen[fmt.Sprint(a.Alert)] == 0 {
					t.Errorf("alert for %s never raised", a.Login)
				}
				delete(seen, fmt.Sprint(a.Alert))
			}
			for a := range seen {
				t.Errorf("alert not raised by the uninterrupted run: %s", a)
			}
			if len(sunk) != len(refSunk)+repeats {
				t.Errorf("%d alerts raised, want %d and %d repeats", len(sunk), len(refSunk), repeats)
			}
			t.Logf("%d lines, %d alerts, %d raised again after a crash", e.Stats.Lines, len(refSunk), repeats)
			if crashes[0] == int(refSunk[0].line)+3 && repeats == 0 {
				t.Error("the alert raised just before the first crash was not raised again")
			}
		})
	}
	var compromised int
	for _, a := range ref.Correlator().Accounts() {
		if a.Detector().Verdict() == detect.Compromised {
			compromised++
		}
	}
	if compromised < 3 {
		t.Errorf("%d compromised logins in the reference run", compromised)
	}
}

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

// FuzzLoad: no input makes Load panic; what loads can read lines.
func FuzzLoad(f *testing.F) {
	e := New(Config{Loc: time.UTC})
	e.SetYear("m", 2026)
	e.Line("m", []byte("Mar  1 00:00:01 mx1 postfix/smtpd[1]: ABC123: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=a@x.test"))
	var b bytes.Buffer
	if err := e.Save(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:len(engineMagic)+14])
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := Load(bytes.NewReader(data), Config{Loc: time.UTC}); err == nil {
			e.Line("m", []byte("Mar  1 00:00:02 mx1 postfix/cleanup[2]: ABC123: message-id=<x@x.test>"))
		}
	})
}

// BenchmarkCheckpointSave: one checkpoint (engine state and cursors, one
// transaction in the store) after an 8 MiB generated log.
func BenchmarkCheckpointSave(b *testing.B) {
	var logBuf bytes.Buffer
	if _, err := loggen.Generate(&logBuf, loggen.Config{Seed: 1, Size: 8 << 20}); err != nil {
		b.Fatal(err)
	}
	e := New(Config{Loc: time.UTC})
	e.SetYear("m", 2026)
	for line := range bytes.Lines(logBuf.Bytes()) {
		e.Line("m", bytes.Clone(bytes.TrimSuffix(line, []byte("\n"))))
	}
	st, err := store.OpenDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cp := NewCheckpointer(st, NewGuarded(e), follow.New(follow.Config{Paths: []string{"m"}}), CheckpointOptions{})
	b.ResetTimer()
	for range b.N {
		if err := cp.Save(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cp.Stats().LastBytes), "bytes")
}
