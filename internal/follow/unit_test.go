package follow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAssemblerSplits feeds the same text cut at every pair of points and
// checks that the lines, their end offsets and their cut flags are always
// the same.
func TestAssemblerSplits(t *testing.T) {
	text := "short\n\nab\r\n" + strings.Repeat("L", 25) + "\nlast\npartial"
	type line struct {
		data string
		cut  bool
		end  int64
	}
	run := func(chunks ...string) []line {
		a := assembler{max: 10}
		var out []line
		var off int64
		for _, c := range chunks {
			a.feed([]byte(c), off, func(d []byte, cut bool, end int64) error {
				out = append(out, line{string(d), cut, end})
				return nil
			})
			off += int64(len(c))
		}
		if !a.pending() {
			t.Fatal("the last partial line is not held")
		}
		return out
	}
	want := run(text)
	if len(want) != 5 || want[3].data != "LLLLLLLLLL" || !want[3].cut || want[4].data != "last" || want[4].end != int64(len(text)-len("partial")) {
		t.Fatalf("whole text: %+v", want)
	}
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			if got := run(text[:i], text[i:j], text[j:]); !slices.Equal(got, want) {
				t.Fatalf("cut at %d,%d: %+v, want %+v", i, j, got, want)
			}
		}
	}
}

func FuzzAssembler(f *testing.F) {
	f.Add([]byte("a\nbb\r\nccc"), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, max, step uint8) {
		if max == 0 || step == 0 {
			return
		}
		a := assembler{max: int(max)}
		var got [][]byte
		for i := 0; i < len(data); i += int(step) {
			a.feed(data[i:min(i+int(step), len(data))], int64(i), func(d []byte, cut bool, end int64) error {
				if len(d) > int(max) || end > int64(len(data)) || data[end-1] != '\n' {
					t.Fatalf("line %q cut=%v end=%d", d, cut, end)
				}
				got = append(got, bytes.Clone(d))
				return nil
			})
		}
		want := bytes.Split(data, []byte("\n"))
		want = want[:len(want)-1]
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.HasPrefix(want[i], got[i]) {
				t.Fatalf("line %d = %q, want a prefix of %q", i, got[i], want[i])
			}
		}
	})
}

func TestSiblingsOrder(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "mail.log")
	now := time.Now()
	files := map[string]time.Duration{
		".3":           3 * time.Hour,
		".2":           2 * time.Hour,
		".1":           time.Hour,
		".1.gz":        0,
		"-20261126":    26 * time.Hour,
		"-20261125":    50 * time.Hour,
		".bak":         0,
		"-other":       0,
		"":             0,
		".0":           time.Hour, // same time as .1: the higher number first
		"-20261127.xz": 0,
	}
	for suffix, age := range files {
		write(t, base+suffix, "x\n")
		if err := os.Chtimes(base+suffix, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range siblings(base) {
		got = append(got, strings.TrimPrefix(p, base))
	}
	want := []string{"-20261125", "-20261126", ".3", ".2", ".1", ".0"}
	if !slices.Equal(got, want) {
		t.Errorf("siblings = %q, want %q", got, want)
	}
}

// TestTicker runs the production waker with a short interval.
func TestTicker(t *testing.T) {
	_, path := logPath(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 10)
	f := New(Config{Paths: []string{path}, Waker: NewTicker(ctx, 5*time.Millisecond)})
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func(l Line) error {
			got <- string(l.Data)
			return nil
		})
	}()
	write(t, path, "tick\n")
	select {
	case l := <-got:
		if l != "tick" {
			t.Errorf("line %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no line after 10 s")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// TestFilesAndStream follows a file and a stream together: each keeps its
// own order and cursor.
func TestFilesAndStream(t *testing.T) {
	dir, path := logPath(t)
	write(t, path, "f1\n")
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	h := start(t, dir, Config{Paths: []string{path}, Readers: []Reader{{Name: "-", R: pr}}})
	h.expect("f1")
	fmt.Fprint(pw, "s1\ns2\n") // returns once the stream's goroutine has the bytes
	appendFile(t, path, "f2\n")
	// Run takes the stream's chunk and the wakes in either order: poll
	// until all three lines are in, then check the order of each source.
	var got []string
	for i := 0; i < 100 && len(got) < 3; i++ {
		h.poll()
		got = append(got, h.take()...)
	}
	var stream, file []string
	for _, l := range got {
		if l[0] == 's' {
			stream = append(stream, l)
		} else {
			file = append(file, l)
		}
	}
	if !slices.Equal(stream, []string{"s1", "s2"}) || !slices.Equal(file, []string{"f2"}) {
		t.Errorf("lines %q", got)
	}
	cp := h.f.Checkpoint()
	if len(cp) != 2 || cp[0].Offset != 6 || cp[1].Path != "-" || cp[1].Offset != 6 {
		t.Errorf("checkpoint %+v", cp)
	}
}

func BenchmarkFollow(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "mail.log")
	var buf bytes.Buffer
	for i := 0; buf.Len() < 8<<20; i++ {
		fmt.Fprintf(&buf, "Nov 27 05:39:22 mx1 postfix/submission/smtpd[18296]: %010X: client=unknown[127.0.0.66], sasl_method=PLAIN, sasl_username=user%d@lab.test\n", i, i%5000)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		w := NewTestWaker()
		f := New(Config{Paths: []string{path}, Waker: w})
		ctx, cancel := context.WithCancel(b.Context())
		n := 0
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, func(Line) error { n++; return nil }) }()
		w.Poll(ctx)
		cancel()
		<-done
		if n == 0 {
			b.Fatal("no lines")
		}
	}
}
