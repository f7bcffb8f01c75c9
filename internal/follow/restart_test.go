package follow

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// saved runs a follower over path until it has read everything, and
// returns its checkpoint through JSON, as the daemon would store it.
func saved(t *testing.T, dir, path string, want ...string) []Cursor {
	t.Helper()
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect(want...)
	return stop(t, h)
}

func stop(t *testing.T, h *harness) []Cursor {
	t.Helper()
	cp := h.f.Checkpoint()
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	var back []Cursor
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// drain polls until a poll delivers nothing and returns all lines.
func (h *harness) drain() []string {
	var all []string
	for range 20 {
		h.poll()
		got := h.take()
		if len(got) == 0 {
			h.poll() // a rotated file waits one quiet poll
			if got = h.take(); len(got) == 0 {
				return all
			}
		}
		all = append(all, got...)
	}
	h.t.Fatal("no end")
	return nil
}

func expectAll(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

func setMtime(t *testing.T, path string, age time.Duration) {
	t.Helper()
	tm := time.Now().Add(-age)
	if err := os.Chtimes(path, tm, tm); err != nil {
		t.Fatal(err)
	}
}

func TestRestartSameFile(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\nb\n")
	cp := saved(t, dir, path, "a", "b")
	appendFile(t, path, "c\nd\n")
	h := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	expectAll(t, append(h.take(), h.drain()...), "c", "d")
	h.expectEvents(EventResumed, 1)
	h.expectEvents(EventGap, 0)
}

func TestRestartAcrossRotation(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\nb\n")
	cp := saved(t, dir, path, "a", "b")
	// While stopped: more lines, a rotation, a new file.
	appendFile(t, path, "c\nd\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	setMtime(t, path+".1", time.Minute)
	write(t, path, "e\nf\n")
	h := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	expectAll(t, append(h.take(), h.drain()...), "c", "d", "e", "f")
	h.expectEvents(EventResumed, 1)
	h.expectEvents(EventGap, 0)
	// Then the new file is followed.
	appendFile(t, path, "g\n")
	h.poll()
	h.expect("g")
}

func TestRestartAcrossTwoRotations(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\n")
	cp := saved(t, dir, path, "a")
	appendFile(t, path, "b\n")
	write(t, path+".5", "too old\n") // an older rotation, already read
	setMtime(t, path+".5", time.Hour)
	write(t, path+".2.gz", "compressed\n")
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	write(t, path+".1", "c\n")
	write(t, path, "d\n")
	// Same mtimes: the number decides.
	now := time.Now()
	for _, p := range []string{path + ".2", path + ".1", path} {
		if err := os.Chtimes(p, now, now); err != nil {
			t.Fatal(err)
		}
	}
	h := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	expectAll(t, append(h.take(), h.drain()...), "b", "c", "d")
}

func TestRestartDatedSibling(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\n")
	cp := saved(t, dir, path, "a")
	appendFile(t, path, "b\n")
	if err := os.Rename(path, path+"-20261127"); err != nil {
		t.Fatal(err)
	}
	setMtime(t, path+"-20261127", time.Minute)
	write(t, path, "c\n")
	h := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	expectAll(t, append(h.take(), h.drain()...), "b", "c")
}

func TestRestartCopytruncateWhileStopped(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\nb\n")
	cp := saved(t, dir, path, "a", "b")
	appendFile(t, path, "c\n")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path+".1", string(data))
	setMtime(t, path+".1", time.Minute)
	write(t, path, "d\n")
	h := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	expectAll(t, append(h.take(), h.drain()...), "c", "d")
}

func TestRestartWhileFinishingRotated(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	fmt.Fprint(w, "a\n")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "b\n")
	write(t, path, "new\n")
	h.poll()
	h.expect("b") // still reading the old file
	fmt.Fprint(w, "c\n")
	cp := stop(t, h)
	if cp[0].Offset != 4 {
		t.Fatalf("checkpoint %+v, want offset 4 in the old file", cp[0])
	}
	setMtime(t, path+".1", time.Minute)
	h2 := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	expectAll(t, append(h2.take(), h2.drain()...), "c", "new")
}

func TestRestartAfterCallbackError(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\nb\nc\n")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a", "b", "c")
	h.mu.Lock()
	h.fail = func(l Line) error {
		if string(l.Data) == "e" {
			return fmt.Errorf("store full")
		}
		return nil
	}
	h.mu.Unlock()
	appendFile(t, path, "d\ne\nf\n")
	h.poll() // Run reports the poll done, then returns the error
	if err := <-h.done; err == nil || err.Error() != "store full" {
		t.Fatalf("Run = %v", err)
	}
	h.expect("d")
	cp := h.f.Checkpoint()
	h.stop()
	h.stop = nil
	h2 := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	h2.expect("e", "f")
}

func TestFingerprintMismatch(t *testing.T) {
	for _, fromEnd := range []bool{false, true} {
		t.Run(fmt.Sprint("fromEnd=", fromEnd), func(t *testing.T) {
			dir, path := logPath(t)
			write(t, path, "a\nb\n")
			cp := saved(t, dir, path, "a", "b")
			write(t, path, "other\ncontent\nhere\n") // replaced, no sibling
			h := start(t, dir, Config{Paths: []string{path}, Cursors: cp, FromEnd: fromEnd})
			if fromEnd {
				h.expect()
			} else {
				h.expect("other", "content", "here")
			}
			h.expectEvents(EventGap, 1)
			h.expectEvents(EventResumed, 0)
			appendFile(t, path, "more\n")
			h.poll()
			h.expect("more")
			if st := h.f.Stats(); st.Gaps != 1 {
				t.Errorf("Gaps = %d", st.Gaps)
			}
		})
	}
	t.Run("shorter than the offset", func(t *testing.T) {
		dir, path := logPath(t)
		write(t, path, "a\nb\n")
		cp := saved(t, dir, path, "a", "b")
		write(t, path, "a\n") // same first bytes, but shorter
		cp[0].FingerprintLen = 2
		h := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
		h.expect("a")
		h.expectEvents(EventGap, 1)
	})
	t.Run("file gone", func(t *testing.T) {
		dir, path := logPath(t)
		write(t, path, "a\n")
		cp := saved(t, dir, path, "a")
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		h := start(t, dir, Config{Paths: []string{path}, Cursors: cp, FromEnd: true})
		h.expectEvents(EventGap, 1)
		write(t, path, "b\n") // appears later: read from 0
		h.poll()
		h.expect("b")
	})
}

func TestRestartNotYetExisting(t *testing.T) {
	dir, path := logPath(t)
	h := start(t, dir, Config{Paths: []string{path}})
	cp := stop(t, h)
	if cp[0].Fingerprint != "" {
		t.Fatalf("cursor of a missing file: %+v", cp[0])
	}
	write(t, path, "a\n")
	h2 := start(t, dir, Config{Paths: []string{path}, Cursors: cp, FromEnd: true})
	h2.expect("a")
	h2.expectEvents(EventGap, 0)
}

func TestRestartKeepsCursorWhileDenied(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\n")
	cp := saved(t, dir, path, "a")
	appendFile(t, path, "b\n")
	var deny atomic.Bool
	deny.Store(true)
	open := func(name string) (*os.File, error) {
		if deny.Load() {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return os.Open(name)
	}
	h := start(t, dir, Config{Paths: []string{path}, Cursors: cp, Open: open})
	h.expect()
	if got := h.f.Checkpoint(); got[0] != cp[0] {
		t.Fatalf("checkpoint while denied = %+v, want the saved %+v", got[0], cp[0])
	}
	deny.Store(false)
	h.poll()
	h.expect("b")
}

// TestResumeAtEveryLine restarts from the cursor of every line of a file
// longer than the fingerprint, rotated while stopped: the rest must follow,
// without a miss or a repeat.
func TestResumeAtEveryLine(t *testing.T) {
	dir, path := logPath(t)
	var lines []string
	var b strings.Builder
	for i := range 60 {
		l := fmt.Sprintf("line %d %s", i, strings.Repeat("z", i*7%50))
		lines = append(lines, l)
		b.WriteString(l + "\n")
	}
	write(t, path, b.String())
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect(lines...)
	h.mu.Lock()
	curs := slices.Clone(h.cursor)
	h.mu.Unlock()
	stop(t, h)
	for i, c := range curs {
		if c.FingerprintLen < min(c.Offset, FingerprintSize) {
			t.Fatalf("line %d: fingerprint covers %d bytes, offset %d", i, c.FingerprintLen, c.Offset)
		}
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	setMtime(t, path+".1", time.Minute)
	write(t, path, "next\n")
	for i, c := range curs {
		h := start(t, dir, Config{Paths: []string{path}, Cursors: []Cursor{c}})
		got := append(h.take(), h.drain()...)
		want := append(slices.Clone(lines[i+1:]), "next")
		if !slices.Equal(got, want) {
			t.Fatalf("resumed after line %d: got %d lines %q..., want %d", i, len(got), got[:min(len(got), 2)], len(want))
		}
		stop(t, h)
	}
}

func TestRestartWithPartialLine(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\nhal")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a")
	cp := stop(t, h)
	h.expectEvents(EventPartialDropped, 0)
	appendFile(t, path, "f\n")
	h2 := start(t, dir, Config{Paths: []string{path}, Cursors: cp})
	h2.expect("half")
}
