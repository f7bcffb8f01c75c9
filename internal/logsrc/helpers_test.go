package logsrc

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// writeFile writes data to dir/name with the given mtime and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzData(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdData(t testing.TB, data []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

// bzip2Data is a bzip2 stream of "bzip2 line 1\nbzip2 line 2\n", made with
// bzip2(1) -9 (the standard library has no bzip2 writer).
var bzip2Data = []byte{
	0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x95, 0xef,
	0xf0, 0x8d, 0x00, 0x00, 0x05, 0x59, 0x80, 0x00, 0x10, 0x40, 0x00, 0x30,
	0x00, 0x12, 0x25, 0x40, 0x10, 0x20, 0x00, 0x20, 0xaa, 0x86, 0x9a, 0x19,
	0x08, 0x06, 0x9a, 0x68, 0x88, 0x96, 0x9b, 0x52, 0x54, 0xa5, 0xa5, 0x65,
	0xbe, 0x2e, 0xe4, 0x8a, 0x70, 0xa1, 0x21, 0x2b, 0xdf, 0xe1, 0x1a,
}

// logLines returns n syslog-like lines, distinct from each other.
func logLines(tag string, from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "Nov 27 05:39:%02d mx1 postfix/submission/smtpd[%d]: %s%08X: client=unknown[127.0.0.66], sasl_method=PLAIN, sasl_username=user%d@lab.test\n",
			i%60, 1000+i%5000, tag, i, i%97)
	}
	return b.Bytes()
}

// result is what a Read delivered.
type result struct {
	perFile map[string][]byte
	order   []string // file names in delivery order, once each
	chunks  []*Chunk // copies: Data is copied, the chunk released
}

// readAll reads s, copying and releasing every chunk, and checks the chunk
// invariants that hold for every input.
func readAll(t testing.TB, s *Set) result {
	t.Helper()
	res := result{perFile: map[string][]byte{}}
	files := s.Files()
	var last *Chunk
	err := s.Read(context.Background(), func(c *Chunk) error {
		if len(c.Data) == 0 {
			t.Errorf("empty chunk %d", c.Seq)
		}
		if want := int64(len(res.chunks)); c.Seq != want {
			t.Errorf("chunk Seq %d, want %d", c.Seq, want)
		}
		if c.Index < 0 || c.Index >= len(files) || files[c.Index] != c.File {
			t.Errorf("chunk %d: Index %d does not name its File", c.Seq, c.Index)
		}
		if last != nil && last.Index != c.Index && c.Index < last.Index {
			t.Errorf("chunk %d: file index went back from %d to %d", c.Seq, last.Index, c.Index)
		}
		if last != nil && last.Index == c.Index && !bytes.HasSuffix(last.Data, []byte("\n")) {
			t.Errorf("chunk %d of %s does not end in a newline but is not the file's last", last.Seq, last.File.Name)
		}
		if _, ok := res.perFile[c.File.Name]; !ok {
			res.order = append(res.order, c.File.Name)
		}
		res.perFile[c.File.Name] = append(res.perFile[c.File.Name], c.Data...)
		cp := &Chunk{File: c.File, Index: c.Index, Seq: c.Seq, Data: bytes.Clone(c.Data)}
		res.chunks = append(res.chunks, cp)
		last = cp
		c.Release()
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return res
}

func randomLines(r *rand.Rand, n, maxLen int) []byte {
	var b bytes.Buffer
	for range n {
		l := r.IntN(maxLen)
		for range l {
			c := byte(' ' + r.IntN(95))
			if r.IntN(50) == 0 {
				c = '\r'
			}
			b.WriteByte(c)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func removeFile(p string) error { return os.Remove(p) }
