package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The memory budget of a scan. What a scan holds live is small and steady
// (the logins' windows, the queue ids in flight, the chunks being parsed)
// and what it allocates is mostly short-lived. With the collector's
// defaults alone the heap grows to twice what is live, and peak memory
// wanders with the live heap and the timing of the cycles. A scan keeps the
// heap within a soft memory limit instead: gcFloor while what is live fits
// well under it, else the live heap plus gcHeadroom (or a quarter of the
// live heap, if more), so that the collector never runs back to back. On
// the bench's logs (live heap 41-45 MB) this gave peaks of 79-80 MiB for
// 256 MiB and 1 GiB of log, against 80-85 and 91-93 with GOGC 50, for 1.5%
// more CPU in the collector (a floor of 64 MiB: 76-78 MiB, for 4% more).
const (
	gcFloor    = 68 << 20
	gcHeadroom = 24 << 20
)

// gcLimit is the soft memory limit for a live heap of live bytes. The
// headroom grows with the live heap (a quarter of it), since the limit
// counts all of the runtime's memory: fragmentation and the rest grow too.
func gcLimit(live uint64) int64 {
	l := int64(min(live, math.MaxInt64/4))
	return max(gcFloor, l+max(gcHeadroom, l/4))
}

// tuneGC applies the budget until stop is called; GOGC and GOMEMLIMIT in
// the environment take precedence. The limit follows the live heap from a
// ticker: the collector's work, never the scan's results, depends on it.
func tuneGC() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(gcLimit(0))
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				metrics.Read(sample)
				if sample[0].Value.Kind() == metrics.KindUint64 {
					debug.SetMemoryLimit(gcLimit(sample[0].Value.Uint64()))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetMemoryLimit(prev)
	}
}
