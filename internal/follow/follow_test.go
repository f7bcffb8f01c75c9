package follow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestRotateRename(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	fmt.Fprint(w, "a\nb\n")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a", "b")

	// Lines written before and after the rename, all before the poll.
	fmt.Fprint(w, "c\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "d\n")
	write(t, path, "e\n")
	h.poll()
	// The old file gave new lines in this poll: it is read once more
	// before the move, in case its writer has not reopened yet.
	h.expect("c", "d")
	fmt.Fprint(w, "d2\n")
	h.poll()
	h.expect("d2")
	h.poll()
	h.expect("e")
	h.expectEvents(EventRotated, 1)

	// The new file is followed.
	appendFile(t, path, "f\n")
	h.poll()
	h.expect("f")
	cp := h.f.Checkpoint()
	if len(cp) != 1 || cp[0].Offset != 4 || cp[0].FingerprintLen != 4 {
		t.Errorf("checkpoint = %+v, want offset 4 in the new file", cp)
	}
}

func TestRotateGraceBounded(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	h := start(t, dir, Config{Paths: []string{path}, RotateGrace: 2})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "new\n")
	// The writer never reopens and writes before every poll.
	for i := range 3 {
		fmt.Fprintf(w, "old%d\n", i)
		h.poll()
	}
	h.expect("old0", "old1", "old2", "new")
	fmt.Fprint(w, "lost\n")
	h.poll()
	h.expect()
}

func TestRotatePartialAtEnd(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	fmt.Fprint(w, "a\nhalf")
	h := start(t, dir, Config{Paths: []string{path}, RotateGrace: 3})
	h.expect("a")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "new\n")
	h.poll() // the old file's last line is incomplete: wait for it
	h.expect()
	fmt.Fprint(w, " done\n")
	h.poll()
	h.expect("half done")
	h.poll()
	h.expect("new")
	h.expectEvents(EventPartialDropped, 0)

	// A half line that never ends is dropped after RotateGrace polls.
	fmt.Fprint(w, "") // w is the old file; write to the new one
	w2 := appender(t, path)
	fmt.Fprint(w2, "b\nnever")
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "c\n")
	for range 4 {
		h.poll()
	}
	h.expect("b", "c")
	h.expectEvents(EventPartialDropped, 1)
}

func TestCopyTruncate(t *testing.T) {
	t.Run("shorter", func(t *testing.T) {
		dir, path := logPath(t)
		write(t, path, "a\nb\n")
		h := start(t, dir, Config{Paths: []string{path}})
		h.expect("a", "b")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "c\n")
		h.poll()
		h.expect("c")
		h.expectEvents(EventTruncated, 1)
		appendFile(t, path, "d\n")
		h.poll()
		h.expect("d")
	})
	t.Run("regrown past the offset", func(t *testing.T) {
		dir, path := logPath(t)
		write(t, path, "a\nb\n")
		h := start(t, dir, Config{Paths: []string{path}})
		h.expect("a", "b")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "ccc\nddd\n")
		h.poll()
		h.expect("ccc", "ddd")
		h.expectEvents(EventReplaced, 1)
	})
	t.Run("held half line dropped", func(t *testing.T) {
		dir, path := logPath(t)
		write(t, path, "a\nhal")
		h := start(t, dir, Config{Paths: []string{path}})
		h.expect("a")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "c\n")
		h.poll()
		h.expect("c")
		h.expectEvents(EventPartialDropped, 1)
	})
	t.Run("writer without O_APPEND leaves NULs", func(t *testing.T) {
		dir, path := logPath(t)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprint(f, "aaaa\nbbbb\n")
		h := start(t, dir, Config{Paths: []string{path}})
		h.expect("aaaa", "bbbb")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(f, "c\n") // at offset 10: a hole of 10 NULs before it
		h.poll()
		h.expect("c")
		h.expectEvents(EventNULSkipped, 1)
		if st := h.f.Stats(); st.NULBytes != 10 {
			t.Errorf("NULBytes = %d, want 10", st.NULBytes)
		}
	})
}

func TestDeleteRecreate(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	fmt.Fprint(w, "a\n")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.poll()
	h.expectEvents(EventDeleted, 1)
	fmt.Fprint(w, "b\n") // the deleted file is still written to
	h.poll()
	h.expect("b")
	write(t, path, "c\n")
	h.poll()
	h.expect("c")
	appendFile(t, path, "d\n")
	h.poll()
	h.expect("d")
	h.expectEvents(EventDeleted, 1)
}

func TestMovedBack(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\n")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a")
	if err := os.Rename(path, path+".x"); err != nil {
		t.Fatal(err)
	}
	h.poll()
	if err := os.Rename(path+".x", path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "b\n")
	h.poll()
	h.poll()
	h.expect("b")
	appendFile(t, path, "c\n")
	h.poll()
	h.expect("c")
	h.expectEvents(EventOpened, 1)
}

func TestPartialLine(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "one\ntw")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("one")
	appendFile(t, path, "o and")
	h.poll()
	h.expect()
	if cp := h.f.Checkpoint(); cp[0].Offset != 4 {
		t.Errorf("checkpoint offset %d inside a partial line, want 4", cp[0].Offset)
	}
	appendFile(t, path, " more\nthree\n")
	h.poll()
	h.expect("two and more", "three")
}

func TestAppearsLater(t *testing.T) {
	for _, fromEnd := range []bool{false, true} {
		t.Run(fmt.Sprint("fromEnd=", fromEnd), func(t *testing.T) {
			dir, path := logPath(t)
			h := start(t, dir, Config{Paths: []string{path}, FromEnd: fromEnd})
			h.poll()
			h.expect()
			h.expectEvents(EventOpenError, 0)
			write(t, path, "a\nb\n")
			h.poll()
			h.expect("a", "b")
		})
	}
}

func TestFromEnd(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "old1\nold2\nhalf")
	h := start(t, dir, Config{Paths: []string{path}, FromEnd: true})
	h.expect()
	appendFile(t, path, " line\nnew\n")
	h.poll()
	h.expect("half line", "new")
}

func TestPermissionDenied(t *testing.T) {
	t.Run("injected open", func(t *testing.T) {
		// Root ignores file modes, so the error is injected.
		dir, path := logPath(t)
		write(t, path, "a\n")
		var deny atomic.Bool
		deny.Store(true)
		open := func(name string) (*os.File, error) {
			if deny.Load() {
				return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
			}
			return os.Open(name)
		}
		h := start(t, dir, Config{Paths: []string{path}, Open: open})
		h.poll()
		h.expect()
		h.expectEvents(EventOpenError, 1) // reported once, retried at each poll
		deny.Store(false)
		h.poll()
		h.expect("a")
		h.expectEvents(EventOpened, 1)
	})
	t.Run("file mode", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores file modes")
		}
		dir, path := logPath(t)
		write(t, path, "a\n")
		if err := os.Chmod(path, 0); err != nil {
			t.Fatal(err)
		}
		h := start(t, dir, Config{Paths: []string{path}})
		h.poll()
		h.expect()
		h.expectEvents(EventOpenError, 1)
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		h.poll()
		h.expect("a")
	})
}

func TestCRLF(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "a\r\nb\r\n\r\n")
	h := start(t, dir, Config{Paths: []string{path}})
	h.expect("a\r", "b\r", "\r")
}

func TestLongLines(t *testing.T) {
	t.Run("3 MiB whole", func(t *testing.T) {
		dir, path := logPath(t)
		long := strings.Repeat("x", 3<<20)
		write(t, path, "a\n"+long[:1<<20])
		h := start(t, dir, Config{Paths: []string{path}})
		h.expect("a")
		appendFile(t, path, long[1<<20:]+"\nb\n")
		h.poll()
		got := h.take()
		if len(got) != 2 || got[0] != long || got[1] != "b" {
			t.Fatalf("got %d lines, first %d bytes", len(got), len(got[0]))
		}
	})
	t.Run("cut at MaxLine", func(t *testing.T) {
		dir, path := logPath(t)
		long := strings.Repeat("y", 5000)
		// One cut line inside a chunk, one across polls.
		write(t, path, long+"\na\n"+long[:3000])
		h := start(t, dir, Config{Paths: []string{path}, MaxLine: 1000})
		appendFile(t, path, long[3000:]+"\nb\n")
		h.poll()
		h.expect(long[:1000], "a", long[:1000], "b")
		if st := h.f.Stats(); st.CutLines != 2 {
			t.Errorf("CutLines = %d, want 2", st.CutLines)
		}
		if cp := h.f.Checkpoint(); cp[0].Offset != int64(2*5001+4) {
			t.Errorf("offset %d, want %d", cp[0].Offset, 2*5001+4)
		}
	})
}

func TestBurst(t *testing.T) {
	dir, path := logPath(t)
	h := start(t, dir, Config{Paths: []string{path}})
	var b strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	write(t, path, b.String())
	h.poll()
	got := h.take()
	if len(got) != 100000 {
		t.Fatalf("%d lines, want 100000", len(got))
	}
	for i, l := range got {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d = %q", i, l)
		}
	}
	if cp := h.f.Checkpoint(); cp[0].Offset != int64(b.Len()) {
		t.Errorf("offset %d, want %d", cp[0].Offset, b.Len())
	}
}

func TestMultipleFiles(t *testing.T) {
	dir, path := logPath(t)
	other := path + "-other"
	write(t, path, "a1\n")
	write(t, other, "b1\n")
	h := start(t, dir, Config{Paths: []string{path, other}})
	h.expect("a1", "b1")
	appendFile(t, other, "b2\n")
	h.poll()
	h.expect("b2")
	cp := h.f.Checkpoint()
	if len(cp) != 2 || cp[0].Path != path || cp[1].Path != other || cp[1].Offset != 6 {
		t.Errorf("checkpoint = %+v", cp)
	}
}

func TestCallbackError(t *testing.T) {
	_, path := logPath(t)
	write(t, path, "a\nb\nc\n")
	boom := errors.New("boom")
	w := NewTestWaker()
	var seen []string
	f := New(Config{Paths: []string{path}, Waker: w})
	err := f.Run(t.Context(), func(l Line) error {
		if string(l.Data) == "b" {
			return boom
		}
		seen = append(seen, string(l.Data))
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want boom", err)
	}
	if cp := f.Checkpoint(); cp[0].Offset != 2 {
		t.Errorf("offset %d after the failed line, want 2 (before it)", cp[0].Offset)
	}
	if err := f.Run(t.Context(), nil); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v", err)
	}
}

func TestCursorJSON(t *testing.T) {
	c := Cursor{Path: "/var/log/mail.log", Fingerprint: strings.Repeat("ab", 32), FingerprintLen: 1024, Offset: 123456, Journal: "s=1;i=2"}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Cursor
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Fatalf("round trip: %s -> %+v, %v", b, back, err)
	}
}

func TestReaderSource(t *testing.T) {
	pr, pw := io.Pipe()
	w := NewTestWaker()
	var events []Event
	f := New(Config{
		Readers: []Reader{{Name: "journal", R: pr, Journal: true}},
		Waker:   w,
		OnEvent: func(e Event) { events = append(events, e) },
	})
	lines := []string{
		`{"__CURSOR":"s=abc;i=1;b=def;m=1;t=2;x=3","MESSAGE":"one"}`,
		`{ "__CURSOR" : "s=abc;i=2;b=def;m=1;t=2;x=4", "MESSAGE" : "two" }`,
		`{"MESSAGE":"no cursor"}`,
	}
	go func() {
		all := strings.Join(lines, "\n") + "\n" + `{"__CURSOR":"s=abc;i=3","MESS`
		// Byte by byte for the first line, then the rest.
		for i := 0; i < 20; i++ {
			pw.Write([]byte{all[i]})
		}
		pw.Write([]byte(all[20:]))
		pw.Close()
	}()
	var got []string
	var curs []string
	err := f.Run(t.Context(), func(l Line) error {
		got = append(got, string(l.Data))
		curs = append(curs, l.Cursor.Journal)
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Fatalf("lines = %q", got)
	}
	want := []string{"s=abc;i=1;b=def;m=1;t=2;x=3", "s=abc;i=2;b=def;m=1;t=2;x=4", "s=abc;i=2;b=def;m=1;t=2;x=4"}
	if strings.Join(curs, "|") != strings.Join(want, "|") {
		t.Errorf("journal cursors = %q, want %q", curs, want)
	}
	cp := f.Checkpoint()
	if len(cp) != 1 || cp[0].Journal != want[2] || cp[0].Path != "journal" {
		t.Errorf("checkpoint = %+v", cp)
	}
	var dropped, ended int
	for _, e := range events {
		switch e.Kind {
		case EventPartialDropped:
			dropped++
		case EventStreamEnd:
			ended++
		}
	}
	if dropped != 1 || ended != 1 {
		t.Errorf("events %+v", events)
	}
}

func TestJournalCursor(t *testing.T) {
	for in, want := range map[string]string{
		`{"__CURSOR":"s=1;i=2","MESSAGE":"x"}`:     "s=1;i=2",
		`{ "__CURSOR" : "s=1;i=2", "MESSAGE" : 1}`: "s=1;i=2",
		`{"MESSAGE":"x"}`:                          "",
		`{"__CURSOR":12}`:                          "",
		`{"__CURSOR":"s=1`:                         "",
		`{"__CURSOR":"a\"b"}`:                      "",
	} {
		if got := string(JournalCursor([]byte(in))); got != want {
			t.Errorf("JournalCursor(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestDeletedReleased(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	fmt.Fprint(w, "a\n")
	h := start(t, dir, Config{Paths: []string{path}, RotateGrace: 2})
	h.expect("a")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "b\n")
	h.poll()
	h.expect("b") // still read while it is written to
	for range 3 {
		h.poll() // quiet: closed after RotateGrace polls
	}
	fmt.Fprint(w, "c\n")
	h.poll()
	h.expect()
	write(t, path, "d\n")
	h.poll()
	h.expect("d")
}
