package logsrc

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCompressionByContent(t *testing.T) {
	plain := logLines("A", 0, 500)
	multi := append(gz(t, plain[:len(plain)/2]), gz(t, plain[len(plain)/2:])...)
	tests := []struct {
		name   string
		file   string
		data   []byte
		format string
		want   []byte
	}{
		{"gzip named .log", "mail.log", gz(t, plain), Gzip, plain},
		{"plain named .gz", "mail.log.1.gz", plain, None, plain},
		{"multi-member gzip", "mail.log.2.gz", multi, Gzip, plain},
		{"xz", "mail.log.3", xzData(t, plain), XZ, plain},
		{"zstd named .bz2", "mail.log.4.bz2", zstdData(t, plain), Zstd, plain},
		{"bzip2", "mail.log.5.bz2", bzip2Data, Bzip2, []byte("bzip2 line 1\nbzip2 line 2\n")},
		{"empty", "empty.log", nil, None, nil},
		{"one byte", "one.log", []byte{0x1f}, None, []byte{0x1f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), tt.file, tt.data, time.Time{})
			s, err := Open([]string{p}, Options{ChunkSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			f := s.Files()[0]
			if f.Compression != tt.format {
				t.Errorf("Compression = %q, want %q", f.Compression, tt.format)
			}
			if f.Size != int64(len(tt.data)) {
				t.Errorf("Size = %d, want %d", f.Size, len(tt.data))
			}
			res := readAll(t, s)
			if !bytes.Equal(res.perFile[p], tt.want) {
				t.Errorf("read %d bytes, want %d", len(res.perFile[p]), len(tt.want))
			}
			st := s.Stats()
			if len(st.Errors) != 0 || st.Files != 1 || st.Bytes != int64(len(tt.want)) {
				t.Errorf("stats = %+v", st)
			}
			if st.InputBytes != int64(len(tt.data)) {
				t.Errorf("InputBytes = %d, want %d", st.InputBytes, len(tt.data))
			}
			if tt.format != None && st.CompressedBytes != int64(len(tt.data)) {
				t.Errorf("CompressedBytes = %d, want %d", st.CompressedBytes, len(tt.data))
			}
			// The same through standard input.
			s, err = Open([]string{"-"}, Options{ChunkSize: 4096, Stdin: bytes.NewReader(tt.data)})
			if err != nil {
				t.Fatal(err)
			}
			if s.Files()[0].Compression != tt.format {
				t.Errorf("stdin Compression = %q, want %q", s.Files()[0].Compression, tt.format)
			}
			res = readAll(t, s)
			if !bytes.Equal(res.perFile["-"], tt.want) {
				t.Errorf("stdin read %d bytes, want %d", len(res.perFile["-"]), len(tt.want))
			}
		})
	}
}

func TestReadContent(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 5<<20)
	tests := []struct {
		name     string
		data     []byte
		opts     Options
		want     []byte
		nuls     int64
		overlong int64
		minChunk int // the largest chunk must be at least this big
	}{
		{
			name: "no trailing newline",
			data: []byte("a\nb\nlast"),
			want: []byte("a\nb\nlast"),
		},
		{
			name: "CRLF kept",
			data: []byte("a\r\nb\r\n"),
			want: []byte("a\r\nb\r\n"),
		},
		{
			name: "leading NULs stripped, inner ones kept",
			data: append(bytes.Repeat([]byte{0}, 10000), "a\x00b\n\x00c\n"...),
			opts: Options{ChunkSize: 1024},
			want: []byte("a\x00b\n\x00c\n"),
			nuls: 10000,
		},
		{
			name: "only NULs",
			data: bytes.Repeat([]byte{0}, 3000),
			opts: Options{ChunkSize: 1024},
			want: nil,
			nuls: 3000,
		},
		{
			name:     "5 MiB line delivered whole",
			data:     append(append([]byte("before\n"), long...), "\nafter\n"...),
			opts:     Options{ChunkSize: 64 << 10},
			want:     append(append([]byte("before\n"), long...), "\nafter\n"...),
			minChunk: 5 << 20,
		},
		{
			name:     "5 MiB last line without newline",
			data:     append([]byte("before\n"), long...),
			opts:     Options{ChunkSize: 64 << 10},
			want:     append([]byte("before\n"), long...),
			minChunk: 5 << 20,
		},
		{
			name:     "line over MaxLine cut",
			data:     append(append([]byte("a\n"), bytes.Repeat([]byte("y"), 10000)...), "\nb\n"...),
			opts:     Options{ChunkSize: 1024, MaxLine: 4096},
			want:     append(append([]byte("a\n"), bytes.Repeat([]byte("y"), 4096)...), "\nb\n"...),
			overlong: 1,
		},
		{
			name:     "last line over MaxLine cut",
			data:     append([]byte("a\n"), bytes.Repeat([]byte("y"), 10000)...),
			opts:     Options{ChunkSize: 1024, MaxLine: 4096},
			want:     append(append([]byte("a\n"), bytes.Repeat([]byte("y"), 4096)...), '\n'), // a cut line ends in '\n'
			overlong: 1,
		},
		{
			name: "line of exactly MaxLine kept",
			data: append(bytes.Repeat([]byte("z"), 4096), '\n'),
			opts: Options{ChunkSize: 1024, MaxLine: 4096},
			want: append(bytes.Repeat([]byte("z"), 4096), '\n'),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "mail.log", tt.data, time.Time{})
			s, err := Open([]string{p}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			res := readAll(t, s)
			if got := res.perFile[p]; !bytes.Equal(got, tt.want) {
				t.Errorf("read %d bytes %.40q..., want %d bytes %.40q...", len(got), got, len(tt.want), tt.want)
			}
			st := s.Stats()
			if st.NULBytes != tt.nuls || st.OverlongLines != tt.overlong {
				t.Errorf("NULBytes %d OverlongLines %d, want %d %d", st.NULBytes, st.OverlongLines, tt.nuls, tt.overlong)
			}
			biggest := 0
			for _, c := range res.chunks {
				biggest = max(biggest, len(c.Data))
			}
			if biggest < tt.minChunk {
				t.Errorf("largest chunk %d bytes, want at least %d", biggest, tt.minChunk)
			}
		})
	}
}

// TestChunksConcatenate is a property test: for random line lengths and
// chunk sizes, the chunks of each file put together are the file.
func TestChunksConcatenate(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		dir := t.TempDir()
		var args []string
		want := map[string][]byte{}
		nfiles := 1 + r.IntN(4)
		for i := range nfiles {
			data := randomLines(r, r.IntN(2000), 1+r.IntN(300))
			if r.IntN(4) == 0 { // a long line somewhere
				at := bytes.IndexByte(data[min(len(data), r.IntN(len(data)+1)):], '\n')
				if at >= 0 {
					data = slices.Insert(data, at, bytes.Repeat([]byte("L"), r.IntN(100000))...)
				}
			}
			if r.IntN(3) == 0 && len(data) > 0 {
				data = data[:len(data)-1] // no trailing newline
			}
			name := "f" + string(rune('a'+i)) + ".log"
			stored := data
			if r.IntN(2) == 0 {
				stored = gz(t, data)
			}
			p := writeFile(t, dir, name, stored, time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC))
			args = append(args, p)
			want[p] = data
		}
		opts := Options{
			ChunkSize:    64 + r.IntN(8000),
			MaxInFlight:  1 + r.IntN(4),
			ReadAhead:    1 + r.IntN(4),
			Decoders:     1 + r.IntN(4),
			OverlapLines: -1,
		}
		s, err := Open(args, opts)
		if err != nil {
			t.Fatal(err)
		}
		res := readAll(t, s)
		for _, p := range args {
			if !bytes.Equal(res.perFile[p], want[p]) {
				t.Fatalf("seed %d opts %+v: %s: chunks give %d bytes, want %d", seed, opts, p, len(res.perFile[p]), len(want[p]))
			}
		}
		for _, c := range res.chunks {
			// A chunk is bigger than ChunkSize only to hold a long line.
			if len(c.Data) > opts.ChunkSize && longestLine(c.Data) <= opts.ChunkSize/2 {
				t.Errorf("seed %d: chunk of %d bytes (ChunkSize %d) with no line over %d", seed, len(c.Data), opts.ChunkSize, opts.ChunkSize/2)
			}
		}
	}
}

func TestOverlap(t *testing.T) {
	lines := func(from, n int) []byte { return logLines("Q", from, n) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name     string
		old, new []byte
		newName  string // default mail.log
		oldName  string // default mail.log.1
		wantNew  []byte
		dups     int64
		opts     Options
	}{
		{
			name:    "overlap skipped once",
			old:     lines(0, 1000),
			new:     lines(990, 100),
			wantNew: lines(1000, 90),
			dups:    10,
		},
		{
			name:    "no overlap",
			old:     lines(0, 1000),
			new:     lines(1000, 100),
			wantNew: lines(1000, 100),
		},
		{
			name:    "new file starts inside the old tail but does not reach its end",
			old:     lines(0, 1000),
			new:     cat(lines(990, 5), lines(2000, 10)),
			wantNew: cat(lines(990, 5), lines(2000, 10)),
		},
		{
			name:    "repeats inside the new file are kept",
			old:     lines(0, 100),
			new:     cat(lines(98, 2), lines(100, 3), lines(100, 3)),
			wantNew: cat(lines(100, 3), lines(100, 3)),
			dups:    2,
		},
		{
			name:    "old file without trailing newline",
			old:     bytes.TrimSuffix(lines(0, 100), []byte("\n")),
			new:     lines(95, 10),
			wantNew: lines(100, 5),
			dups:    5,
		},
		{
			name:    "whole new file is overlap",
			old:     lines(0, 100),
			new:     lines(90, 10),
			wantNew: nil,
			dups:    10,
		},
		{
			name:    "different base names are not compared",
			old:     lines(0, 100),
			new:     lines(90, 20),
			oldName: "mail.err",
			newName: "mail.log",
			wantNew: lines(90, 20),
		},
		{
			name:    "tail over several chunks",
			old:     lines(0, 1000),
			new:     lines(700, 400),
			wantNew: lines(1000, 100),
			dups:    300,
			opts:    Options{ChunkSize: 64 << 10},
		},
		{
			name:    "disabled",
			old:     lines(0, 100),
			new:     lines(90, 20),
			wantNew: lines(90, 20),
			opts:    Options{OverlapLines: -1},
		},
		{
			name:    "identical lines: the longest suffix is skipped",
			old:     []byte("a\na\na\nb\na\na\n"),
			new:     []byte("a\na\nc\n"),
			wantNew: []byte("c\n"),
			dups:    2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			oldName, newName := tt.oldName, tt.newName
			if oldName == "" {
				oldName, newName = "mail.log.1", "mail.log"
			}
			tm := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
			po := writeFile(t, dir, oldName, gz(t, tt.old), tm)
			pn := writeFile(t, dir, newName, tt.new, tm.Add(time.Hour))
			s, err := Open([]string{pn, po}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			res := readAll(t, s)
			if !bytes.Equal(res.perFile[po], tt.old) {
				t.Errorf("old file changed: %d bytes, want %d", len(res.perFile[po]), len(tt.old))
			}
			if got := res.perFile[pn]; !bytes.Equal(got, tt.wantNew) {
				t.Errorf("new file read as %d bytes %.80q, want %d bytes %.80q", len(got), got, len(tt.wantNew), tt.wantNew)
			}
			if got := s.Stats().DuplicateLines; got != tt.dups {
				t.Errorf("DuplicateLines = %d, want %d", got, tt.dups)
			}
		})
	}
}

func TestCorruptFileContinues(t *testing.T) {
	dir := t.TempDir()
	tm := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	first := logLines("A", 0, 100)
	middle := logLines("B", 0, 20000)
	last := logLines("C", 0, 100)
	z := gz(t, middle)
	p1 := writeFile(t, dir, "mail.log.3.gz", gz(t, first), tm)
	p2 := writeFile(t, dir, "mail.log.2.gz", z[:len(z)/2], tm)
	bad := bytes.Clone(z)
	for i := len(bad) / 3; i < len(bad)/3+64; i++ {
		bad[i] ^= 0x55
	}
	p3 := writeFile(t, dir, "mail.log.1.gz", bad, tm)
	p4 := writeFile(t, dir, "mail.log", last, tm)
	s, err := Open([]string{p1, p2, p3, p4}, Options{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, s)
	if !bytes.Equal(res.perFile[p1], first) || !bytes.Equal(res.perFile[p4], last) {
		t.Error("the good files were not read whole")
	}
	if got := res.perFile[p2]; len(got) == 0 || !bytes.HasPrefix(middle, got) {
		t.Errorf("truncated %s: read %d bytes, want a non-empty prefix of the original", p2, len(got))
	}
	if got := res.perFile[p3]; len(got) == 0 {
		t.Errorf("corrupt %s: nothing read before the damage", p3)
	}
	st := s.Stats()
	if len(st.Errors) != 2 {
		t.Fatalf("Errors = %v, want the two broken files", st.Errors)
	}
	names := map[string]bool{}
	for _, e := range st.Errors {
		names[e.File] = true
		if !strings.Contains(e.Error(), e.File) {
			t.Errorf("error %q does not name the file", e.Error())
		}
	}
	if !names[p2] || !names[p3] {
		t.Errorf("Errors = %v, want %s and %s", st.Errors, p2, p3)
	}
	if st.Files != 4 {
		t.Errorf("Files = %d, want 4", st.Files)
	}
}

func TestFileVanishedBeforeRead(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "mail.log.1", []byte("gone\n"), time.Time{})
	q := writeFile(t, dir, "mail.log", []byte("here\n"), time.Time{})
	s, err := Open([]string{p, q}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := removeFile(p); err != nil {
		t.Fatal(err)
	}
	res := readAll(t, s)
	if string(res.perFile[q]) != "here\n" {
		t.Errorf("read %q", res.perFile[q])
	}
	if errs := s.Stats().Errors; len(errs) != 1 || errs[0].File != p {
		t.Errorf("Errors = %v, want one for %s", errs, p)
	}
}

func TestBackpressure(t *testing.T) {
	dir := t.TempDir()
	data := logLines("A", 0, 20000) // about 2.6 MB
	p := writeFile(t, dir, "mail.log", data, time.Time{})
	const maxInFlight = 3
	s, err := Open([]string{p}, Options{ChunkSize: 16 << 10, MaxInFlight: maxInFlight})
	if err != nil {
		t.Fatal(err)
	}
	var held atomic.Int64
	var peak atomic.Int64
	work := make(chan *Chunk, 1000)
	var got bytes.Buffer
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a slow consumer releasing from another goroutine
		defer wg.Done()
		for c := range work {
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			got.Write(c.Data)
			mu.Unlock()
			held.Add(-1)
			c.Release()
			c.Release() // a second call does nothing
		}
	}()
	done := make(chan error, 1)
	go func() {
		done <- s.Read(context.Background(), func(c *Chunk) error {
			n := held.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			work <- c
			return nil
		})
		close(work)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Read deadlocked")
	}
	wg.Wait()
	if peak.Load() > maxInFlight {
		t.Errorf("%d chunks unreleased at once, want at most %d", peak.Load(), maxInFlight)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Error("data differs")
	}
}

func TestBlockedUntilRelease(t *testing.T) {
	p := writeFile(t, t.TempDir(), "mail.log", logLines("A", 0, 2000), time.Time{})
	s, err := Open([]string{p}, Options{ChunkSize: 4096, MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	var kept []*Chunk
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	calls := make(chan int, 100)
	go func() {
		done <- s.Read(ctx, func(c *Chunk) error {
			kept = append(kept, c) // never released
			calls <- len(kept)
			return nil
		})
	}()
	<-calls
	<-calls
	select {
	case n := <-calls:
		t.Fatalf("fn called a %dth time with 2 chunks unreleased", n)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop a blocked Read")
	}
}

func TestReadStops(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for i, n := range []string{"mail.log.2.gz", "mail.log.1.gz", "mail.log"} {
		data := logLines("A", i*5000, 5000)
		if strings.HasSuffix(n, ".gz") {
			data = gz(t, data)
		}
		args = append(args, writeFile(t, dir, n, data, time.Time{}))
	}
	errStop := errors.New("stop")
	tests := []struct {
		name string
		fn   func(cancel context.CancelFunc, c *Chunk) error
		want error
	}{
		{"fn error", func(_ context.CancelFunc, c *Chunk) error {
			c.Release()
			if c.Seq == 3 {
				return errStop
			}
			return nil
		}, errStop},
		{"cancel", func(cancel context.CancelFunc, c *Chunk) error {
			c.Release()
			if c.Seq == 3 {
				cancel()
			}
			return nil
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(args, Options{ChunkSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			err = s.Read(ctx, func(c *Chunk) error {
				calls++
				return tt.fn(cancel, c)
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read = %v, want %v", err, tt.want)
			}
			if calls != 4 {
				t.Errorf("fn called %d times, want 4 (no call after the stop)", calls)
			}
			if err := s.Read(ctx, func(*Chunk) error { return nil }); err == nil {
				t.Error("a second Read did not fail")
			}
		})
	}
}

func longestLine(b []byte) int {
	longest := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		longest = max(longest, i)
		b = b[min(i+1, len(b)):]
	}
	return longest
}

// TestGarbageAfterMagic: a file that starts like a compressed file and then
// holds garbage is an error in Stats, never a panic or a failed Read.
func TestGarbageAfterMagic(t *testing.T) {
	magics := map[string][]byte{
		Gzip:  {0x1f, 0x8b},
		XZ:    {0xfd, '7', 'z', 'X', 'Z', 0x00},
		Zstd:  {0x28, 0xb5, 0x2f, 0xfd},
		Bzip2: []byte("BZh9"),
	}
	r := rand.New(rand.NewPCG(5, 6))
	for format, magic := range magics {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 20 {
				garbage := make([]byte, r.IntN(5000))
				for k := range garbage {
					garbage[k] = byte(r.Uint32())
				}
				p := writeFile(t, dir, "bad.log", append(append([]byte(nil), magic...), garbage...), time.Time{})
				good := writeFile(t, dir, "good.log", []byte("good\n"), time.Now().Add(time.Hour))
				s, err := Open([]string{p, good}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if s.Files()[0].Compression != format {
					t.Fatalf("Compression = %q, want %q", s.Files()[0].Compression, format)
				}
				res := readAll(t, s)
				if string(res.perFile[good]) != "good\n" {
					t.Errorf("case %d: the good file after the bad one read as %q", i, res.perFile[good])
				}
				if errs := s.Stats().Errors; len(errs) != 1 || errs[0].File != p {
					t.Errorf("case %d: Errors = %v, want one for the bad file", i, errs)
				}
				if _, err := s.Tail(s.Files()[0], 100); err == nil {
					t.Errorf("case %d: Tail of garbage reported no error", i)
				}
			}
		})
	}
}

// TestNoGoroutineLeft: however Read ends, no goroutine of a file set stays
// behind (streams aside).
func TestNoGoroutineLeft(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for i, n := range []string{"mail.log.3.gz", "mail.log.2.zst", "mail.log.1", "mail.log"} {
		data := logLines("G", i*3000, 3000)
		switch {
		case strings.HasSuffix(n, ".gz"):
			data = gz(t, data)
		case strings.HasSuffix(n, ".zst"):
			data = zstdData(t, data)
		}
		args = append(args, writeFile(t, dir, n, data, time.Time{}))
	}
	before := runtime.NumGoroutine()
	errStop := errors.New("stop")
	for stopAt := int64(0); stopAt < 12; stopAt++ {
		s, err := Open(args, Options{ChunkSize: 8192, ReadAhead: 1})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Read(context.Background(), func(c *Chunk) error {
			c.Release()
			if c.Seq == stopAt {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("Read = %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the reads, %d before", n, before)
	}
}
