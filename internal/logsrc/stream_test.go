package logsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestFIFOIsAStream(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	data := logLines("F", 0, 5000)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		w.Write(gz(t, data))
	}()
	plain := writeFile(t, dir, "mail.log", []byte("file\n"), time.Time{})
	s, err := Open([]string{fifo, plain}, Options{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	files := s.Files()
	if files[1].Name != fifo || files[1].Size != -1 || files[1].Compression != Gzip || files[1].Seekable() {
		t.Fatalf("fifo file = %+v, want last, size -1, gzip, not seekable", files[1])
	}
	if _, err := s.Tail(files[1], 100); err == nil {
		t.Error("Tail of a FIFO did not fail")
	}
	res := readAll(t, s)
	if !bytes.Equal(res.perFile[fifo], data) {
		t.Errorf("read %d bytes from the FIFO, want %d", len(res.perFile[fifo]), len(data))
	}
}

func TestStdinCorruptRecorded(t *testing.T) {
	z := gz(t, logLines("S", 0, 20000))
	s, err := Open([]string{"-"}, Options{Stdin: bytes.NewReader(z[:len(z)/2])})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Read(context.Background(), func(c *Chunk) error { c.Release(); return nil }); err != nil {
		t.Fatalf("Read = %v, want nil (the error goes to Stats)", err)
	}
	st := s.Stats()
	if len(st.Errors) != 1 || st.Errors[0].File != "standard input" {
		t.Errorf("Errors = %v, want one for standard input", st.Errors)
	}
	if st.Bytes == 0 {
		t.Error("nothing decoded before the truncation")
	}
}

// TestStatsDuringRead calls Stats while Read runs (for the race detector) and
// checks that the counters only grow.
func TestStatsDuringRead(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, n := range []string{"mail.log.2.gz", "mail.log.1", "mail.log"} {
		args = append(args, writeFile(t, dir, n, gz(t, logLines("X", 0, 20000)), time.Time{}))
	}
	s, err := Open(args, Options{ChunkSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last Stats
		for {
			st := s.Stats()
			if st.Bytes < last.Bytes || st.Chunks < last.Chunks || st.InputBytes < last.InputBytes {
				t.Errorf("counters went back: %+v after %+v", st, last)
			}
			last = st
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	if err := s.Read(context.Background(), func(c *Chunk) error { c.Release(); return nil }); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	st := s.Stats()
	if st.InputBytes != s.TotalSize() || st.CompressedBytes != s.TotalSize() || st.Files != 3 {
		t.Errorf("stats %+v, want InputBytes = CompressedBytes = TotalSize %d and 3 files", st, s.TotalSize())
	}
}

// TestOverlapInterleavedGroups: the overlap check pairs a file with the
// previous file of its own group even when another group's file was read in
// between.
func TestOverlapInterleavedGroups(t *testing.T) {
	dir := t.TempDir()
	tm := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	old := logLines("M", 0, 100)
	other := logLines("M", 90, 10) // the same lines, but in another group
	newer := logLines("M", 95, 10)
	po := writeFile(t, dir, "mail.log.1", old, tm)
	pe := writeFile(t, dir, "mail.err", other, tm.Add(time.Hour))
	pn := writeFile(t, dir, "mail.log", newer, tm.Add(2*time.Hour))
	s, err := Open([]string{pn, pe, po}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, s)
	if want := []string{po, pe, pn}; !slices.Equal(res.order, want) {
		t.Fatalf("order %v, want %v", res.order, want)
	}
	if !bytes.Equal(res.perFile[pe], other) {
		t.Error("mail.err was compared with mail.log.1")
	}
	if want := logLines("M", 100, 5); !bytes.Equal(res.perFile[pn], want) {
		t.Errorf("mail.log read as %q, want its 5 new lines", res.perFile[pn])
	}
	if got := s.Stats().DuplicateLines; got != 5 {
		t.Errorf("DuplicateLines = %d, want 5", got)
	}
}

// TestCancelWhileStdinBlocks: a cancel stops Read even while standard input
// delivers nothing.
func TestCancelWhileStdinBlocks(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("hello, no newline yet"))
	s, err := Open([]string{"-"}, Options{Stdin: pr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Read(ctx, func(c *Chunk) error {
		t.Errorf("got a chunk %q before the line ended", c.Data)
		c.Release()
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read took %v to notice the cancel", d)
	}
}

// TestDecodesAhead: while the consumer holds the first chunk of file 0, the
// next file is decoded to its end in another goroutine when Decoders allows,
// and not at all when Decoders is 1.
func TestDecodesAhead(t *testing.T) {
	dir := t.TempDir()
	tm := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	big := writeFile(t, dir, "mail.log.2.gz", gz(t, logLines("A", 0, 50000)), tm)
	small := writeFile(t, dir, "mail.log.1.gz", gz(t, logLines("B", 0, 100)), tm)
	for _, tt := range []struct {
		decoders int
		ahead    bool
	}{{1, false}, {2, true}} {
		s, err := Open([]string{small, big}, Options{ChunkSize: 16 << 10, ReadAhead: 2, Decoders: tt.decoders})
		if err != nil {
			t.Fatal(err)
		}
		sawAhead := false
		err = s.Read(context.Background(), func(c *Chunk) error {
			defer c.Release()
			if c.Seq != 0 {
				return nil
			}
			deadline := time.Now().Add(200 * time.Millisecond)
			if tt.ahead {
				deadline = time.Now().Add(10 * time.Second)
			}
			for time.Now().Before(deadline) {
				if s.Stats().Files > 0 { // file 1 finished while file 0 is held
					sawAhead = true
					break
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if sawAhead != tt.ahead {
			t.Errorf("Decoders %d: next file finished during the first = %v, want %v", tt.decoders, sawAhead, tt.ahead)
		}
	}
}
