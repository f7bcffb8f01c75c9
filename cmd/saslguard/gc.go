package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The memory budget of a scan. What a scan holds live is small and steady
// (the logins' windows, the queue ids in flight, the chunks being parsed:
// 41-45 MB on the bench's logs) and what it allocates is mostly
// short-lived. With the collector's defaults the heap grows to twice what
// is live, so peak memory wanders with the live heap and the timing of the
// cycles, and while the heap is small (the first hundred milliseconds) the
// collector runs again and again. A scan has a budget instead: no
// proportional collection (GOGC off) and a soft memory limit of gcFloor, or
// the live heap plus gcHeadroom (half the live heap, if more) when more is
// live, so that the collector never runs back to back.
//
// Measured on the bench's 1 GiB log, in runs alternating with the other
// settings: against GOGC 50 (peak RSS 77-79 MiB, flat from 256 MiB of log),
// this budget took 10-15% less wall time and CPU for a flat 113 MiB; a floor
// of 88 MiB gained nothing, and GOGC 200 gained as much for 135-146 MiB.
const (
	gcFloor    = 104 << 20
	gcHeadroom = 48 << 20
)

// gcLimit is the soft memory limit for a live heap of live bytes.
func gcLimit(live uint64) int64 {
	l := int64(min(live, math.MaxInt64/4))
	return max(gcFloor, l+max(gcHeadroom, l/2))
}

// tuneGC applies the budget until stop is called; GOGC and GOMEMLIMIT in
// the environment take precedence. The limit follows the live heap from a
// ticker: the collector's work, never the scan's results, depends on it.
func tuneGC() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(gcLimit(0))
	prevPercent := debug.SetGCPercent(-1)
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
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prev)
	}
}
