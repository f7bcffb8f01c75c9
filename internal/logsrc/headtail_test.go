package logsrc

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHeadTail(t *testing.T) {
	data := logLines("H", 0, 3000) // lines of about 130 bytes
	lastLines := func(n int) []byte {
		lines := bytes.SplitAfter(data, []byte("\n"))
		lines = lines[:len(lines)-1] // SplitAfter leaves an empty last element
		return bytes.Join(lines[len(lines)-n:], nil)
	}
	lineLen := bytes.IndexByte(data, '\n') + 1
	tests := []struct {
		name   string
		stored []byte
	}{
		{"plain", data},
		{"gzip", gz(t, data)},
		{"xz", xzData(t, data)},
		{"zstd", zstdData(t, data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "mail.log", tt.stored, time.Time{})
			s, err := Open([]string{p}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			f := s.Files()[0]
			head, err := s.Head(f, 1000)
			if err != nil || !bytes.Equal(head, data[:1000]) {
				t.Errorf("Head(1000) = %d bytes, %v; want the first 1000 bytes", len(head), err)
			}
			head, err = s.Head(f, 1<<30)
			if err != nil || !bytes.Equal(head, data) {
				t.Errorf("Head(1 GiB) = %d bytes, %v; want the whole file", len(head), err)
			}
			// A window of 2.5 lines holds the last 2 whole lines.
			tail, err := s.Tail(f, 2*lineLen+lineLen/2)
			if err != nil || !bytes.Equal(tail, lastLines(2)) {
				t.Errorf("Tail = %q, %v; want the last 2 lines", tail, err)
			}
			// A window that starts exactly at a line start keeps that line.
			tail, err = s.Tail(f, len(lastLines(500)))
			if err != nil || !bytes.Equal(tail, lastLines(500)) {
				t.Errorf("Tail(500 lines) = %d bytes, %v; want the last 500 lines", len(tail), err)
			}
			tail, err = s.Tail(f, len(lastLines(500))-1)
			if err != nil || !bytes.Equal(tail, lastLines(499)) {
				t.Errorf("Tail(500 lines - 1 byte) = %d bytes, %v; want the last 499 lines", len(tail), err)
			}
			tail, err = s.Tail(f, len(data))
			if err != nil || !bytes.Equal(tail, data) {
				t.Errorf("Tail(file size) = %d bytes, %v; want the whole file", len(tail), err)
			}
			tail, err = s.Tail(f, 10*len(data))
			if err != nil || !bytes.Equal(tail, data) {
				t.Errorf("Tail(more than the file) = %d bytes, %v; want the whole file", len(tail), err)
			}
		})
	}
}

func TestHeadTailNotForStreams(t *testing.T) {
	s, err := Open([]string{"-"}, Options{Stdin: strings.NewReader("a\n")})
	if err != nil {
		t.Fatal(err)
	}
	f := s.Files()[0]
	if _, err := s.Head(f, 10); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("Head(stdin) error = %v", err)
	}
	if _, err := s.Tail(f, 10); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("Tail(stdin) error = %v", err)
	}
}

func TestTailOfCorruptFile(t *testing.T) {
	data := logLines("T", 0, 20000)
	z := gz(t, data)
	p := writeFile(t, t.TempDir(), "mail.log.1.gz", z[:len(z)/2], time.Time{})
	s, err := Open([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tail, err := s.Tail(s.Files()[0], 4096)
	if err == nil {
		t.Error("Tail of a truncated gzip file reported no error")
	}
	if len(tail) == 0 || !bytes.Contains(data, tail) {
		t.Errorf("Tail = %d bytes, want the end of what decoded", len(tail))
	}
	head, err := s.Head(s.Files()[0], 4096)
	if err != nil || !bytes.Equal(head, data[:4096]) {
		t.Errorf("Head = %d bytes, %v; want the first 4096 bytes", len(head), err)
	}
}

func TestTailLongLine(t *testing.T) {
	data := append([]byte("short\n"), bytes.Repeat([]byte("x"), 10000)...)
	p := writeFile(t, t.TempDir(), "mail.log", data, time.Time{})
	s, err := Open([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tail, err := s.Tail(s.Files()[0], 100)
	if err != nil || len(tail) != 0 {
		t.Errorf("Tail inside one long line = %q, %v; want nothing (no line starts in the window)", tail, err)
	}
}

// TestHeadTailOfRedirectedStdin: standard input redirected from a regular
// file (here gzip'ed, and partly read before) has a head and a tail, taken
// from where the stream starts, and reading them does not move the stream.
func TestHeadTailOfRedirectedStdin(t *testing.T) {
	dir := t.TempDir()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("first\nsecond\nthird\n"))
	zw.Close()
	p := filepath.Join(dir, "in")
	if err := os.WriteFile(p, append([]byte("skipped by the caller\n"), z.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Seek(int64(len("skipped by the caller\n")), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	s, err := Open([]string{"-"}, Options{Stdin: fh})
	if err != nil {
		t.Fatal(err)
	}
	f := s.Files()[0]
	if h, err := s.Head(f, 6); err != nil || string(h) != "first\n" {
		t.Errorf("Head = %q, %v", h, err)
	}
	if tl, err := s.Tail(f, 8); err != nil || string(tl) != "third\n" {
		t.Errorf("Tail = %q, %v", tl, err)
	}
	var got []byte
	if err := s.Read(context.Background(), func(c *Chunk) error {
		got = append(got, c.Data...)
		c.Release()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != "first\nsecond\nthird\n" {
		t.Errorf("stream read %q after Head and Tail", got)
	}
}
