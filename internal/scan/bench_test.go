package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/logsrc"
)

var (
	benchOnce sync.Once
	benchLog  []byte
)

// benchData is a generated 64 MiB log, made once per test binary.
func benchData(b *testing.B) []byte {
	benchOnce.Do(func() {
		var buf bytes.Buffer
		if _, err := loggen.Generate(&buf, loggen.Config{Seed: 42, Size: 64 << 20}); err != nil {
			b.Fatal(err)
		}
		benchLog = buf.Bytes()
	})
	return benchLog
}

// BenchmarkParse measures the parallel stage alone, on one goroutine.
func BenchmarkParse(b *testing.B) {
	data := benchData(b)
	b.SetBytes(int64(len(data)))
	p := logline.New(2026, time.UTC)
	bt := &batch{events: make([]event.Event, 0, 1<<16)}
	sk := correlate.New(correlate.Config{}).NewSkipper()
	cpuMBps(b, len(data), func() {
		for off := 0; off < len(data); {
			end := min(off+1<<20, len(data))
			if i := bytes.IndexByte(data[end-1:], '\n'); i >= 0 && end < len(data) {
				end += i
			}
			bt.chunk = &logsrc.Chunk{Data: data[off:end]}
			parseChunk(p, sk, new(logline.Repeats), bt)
			bt.events = bt.events[:0]
			off = end
		}
	})
}

// BenchmarkCorrelate measures the sequential stage alone: events parsed
// beforehand are fed to a new correlator.
func BenchmarkCorrelate(b *testing.B) {
	data := benchData(b)
	p := logline.New(2026, time.UTC)
	var events []event.Event
	var ev event.Event
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if r := p.Parse(string(line), &ev); r.Status == logline.Parsed && ev.Kind != event.Ignored {
			events = append(events, ev)
		}
	}
	b.SetBytes(int64(len(data)))
	cpuMBps(b, len(data), func() {
		c := correlate.New(correlate.Config{})
		for i := range events {
			c.Add(&events[i])
		}
		c.Finish()
	})
}

// BenchmarkScan measures the whole pipeline on a plain file.
func BenchmarkScan(b *testing.B) {
	data := benchData(b)
	path := filepath.Join(b.TempDir(), "mail.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	cpuMBps(b, len(data), func() {
		set, err := logsrc.Open([]string{path}, logsrc.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Run(context.Background(), set, Options{Year: 2026, Loc: time.UTC}); err != nil {
			b.Fatal(err)
		}
	})
}

// cpuMBps reports the throughput in CPU time (user+system of the process),
// which a busy shared machine disturbs less than wall time.
func cpuMBps(b *testing.B, bytesPerOp int, f func()) {
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	n := 0
	for b.Loop() {
		f()
		n++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	if cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(n)/cpu.Seconds()/1e6, "cpuMB/s")
	}
}
