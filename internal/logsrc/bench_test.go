package logsrc

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchData returns about size bytes of varied syslog-like lines (random
// queue ids, pids, addresses and logins, so that they compress about as well
// as a real mail log: gzip -6 to about a tenth).
func benchData(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]byte, 0, size+512)
	sec := 0
	for len(out) < size {
		sec += r.IntN(3)
		qid := fmt.Sprintf("%010X", r.Uint64()&0xffffffffff)
		pid := 1000 + r.IntN(30000)
		ip := fmt.Sprintf("%d.%d.%d.%d", r.IntN(224), r.IntN(256), r.IntN(256), r.IntN(256))
		ts := fmt.Sprintf("Nov %2d %02d:%02d:%02d", 1+sec/86400%28, sec/3600%24, sec/60%60, sec%60)
		switch r.IntN(4) {
		case 0:
			out = fmt.Appendf(out, "%s mx1 postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=user%d@example.org\n", ts, pid, qid, ip, r.IntN(5000))
		case 1:
			out = fmt.Appendf(out, "%s mx1 postfix/qmgr[%d]: %s: from=<promo%d@spam%d.example.net>, size=%d, nrcpt=1 (queue active)\n", ts, pid, qid, r.IntN(1000), r.IntN(100), 400+r.IntN(50000))
		case 2:
			out = fmt.Appendf(out, "%s mx1 postfix/smtp[%d]: %s: to=<user%d@example.com>, relay=mx%d.example.com[%s]:25, delay=%d.%d, delays=0.1/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %X)\n", ts, pid, qid, r.IntN(100000), r.IntN(10), ip, r.IntN(100), r.IntN(10), r.Uint32())
		default:
			out = fmt.Appendf(out, "%s mx1 postfix/smtpd[%d]: disconnect from unknown[%s] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n", ts, pid, ip)
		}
	}
	return out
}

// readSet reads every chunk of the set; with work, chunks are handed to two
// goroutines that count newlines before releasing them (a stand-in for the
// parser), otherwise they are released at once.
func readSet(b *testing.B, args []string, opts Options, work bool) int64 {
	s, err := Open(args, opts)
	if err != nil {
		b.Fatal(err)
	}
	var lines int64
	var wg sync.WaitGroup
	ch := make(chan *Chunk, 16)
	counts := make([]int64, 2)
	if work {
		for i := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range ch {
					counts[i] += int64(bytes.Count(c.Data, []byte{'\n'}))
					c.Release()
				}
			}()
		}
	}
	err = s.Read(context.Background(), func(c *Chunk) error {
		if work {
			ch <- c
			return nil
		}
		c.Release()
		return nil
	})
	close(ch)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if errs := s.Stats().Errors; len(errs) > 0 {
		b.Fatal(errs)
	}
	for _, n := range counts {
		lines += n
	}
	return s.Stats().Bytes
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports CPU time per op next to wall time: the
// machine is shared, and CPU time says more than wall time when it is busy.
func loop(b *testing.B, f func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
}

func BenchmarkReadPlain(b *testing.B) {
	data := benchData(256 << 20)
	p := writeFile(b, b.TempDir(), "mail.log", data, time.Time{})
	for _, size := range []int{256 << 10, 1 << 20, 2 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("chunk=%dK", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			loop(b, func() {
				if n := readSet(b, []string{p}, Options{ChunkSize: size}, false); n != int64(len(data)) {
					b.Fatalf("read %d bytes, want %d", n, len(data))
				}
			})
		})
	}
}

func BenchmarkReadGzip4(b *testing.B) {
	data := benchData(32 << 20)
	z := gz(b, data)
	dir := b.TempDir()
	var args []string
	for i := range 4 {
		args = append(args, writeFile(b, dir, fmt.Sprintf("mail.log.%d.gz", i+1), z, time.Time{}))
	}
	total := int64(4 * len(data))
	b.Logf("gzip: %d -> %d bytes", len(data), len(z))
	for _, work := range []bool{false, true} {
		for _, o := range []struct{ dec, ahead int }{{1, 16}, {2, 16}, {2, 64}, {4, 16}} {
			b.Run(fmt.Sprintf("work=%v/decoders=%d/readahead=%d", work, o.dec, o.ahead), func(b *testing.B) {
				b.SetBytes(total)
				loop(b, func() {
					if n := readSet(b, args, Options{Decoders: o.dec, ReadAhead: o.ahead}, work); n != total {
						b.Fatalf("read %d bytes, want %d", n, total)
					}
				})
			})
		}
	}
}

func BenchmarkReadFormats(b *testing.B) {
	data := benchData(16 << 20)
	dir := b.TempDir()
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"plain", data},
		{"gzip", gz(b, data)},
		{"zstd", zstdData(b, data)},
		{"xz", xzData(b, data)},
	} {
		p := writeFile(b, dir, filepath.Base(f.name), f.data, time.Time{})
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			loop(b, func() { readSet(b, []string{p}, Options{}, false) })
		})
	}
}

// BenchmarkOverlapNoMatch is the per-file cost of the copytruncate check when
// there is no overlap: hashing the old file's last lines and looking for the
// new file's first line among them.
func BenchmarkOverlapNoMatch(b *testing.B) {
	old := benchData(2 << 20)
	next := benchData(1 << 20)[1000:]
	next = next[bytes.IndexByte(next, '\n')+1:]
	chunks := []*Chunk{{Data: old[:1<<20]}, {Data: old[1<<20:]}}
	seed := seedOnce
	for b.Loop() {
		tail := tailHashes(seed, chunks, DefaultOverlapLines)
		if n, _ := skipOverlap(seed, tail, next); n != 0 {
			b.Fatal("found an overlap")
		}
	}
}
