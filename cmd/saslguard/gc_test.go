package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestGCLimit(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, gcFloor},
		{45 << 20, gcFloor},             // the bench's logs: the floor binds
		{80 << 20, 80<<20 + gcHeadroom}, // many logins: room to allocate between cycles
		{400 << 20, 600 << 20},          // half the live heap, if more
		{math.MaxUint64, math.MaxInt64/4 + math.MaxInt64/8},
	} {
		if got := gcLimit(c.live); got != c.want {
			t.Errorf("gcLimit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestTuneGCRestores: the limit applies while a scan runs and is given back.
func TestTuneGCRestores(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	before := debug.SetMemoryLimit(-1)
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	stop := tuneGC()
	if got := debug.SetMemoryLimit(-1); got < gcFloor || got == before {
		t.Errorf("limit during the scan %d", got)
	}
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GOGC during the scan %d, want off", p)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after the scan %d, want %d", got, before)
	}
	if p := debug.SetGCPercent(percent); p != percent {
		t.Errorf("GOGC after the scan %d, want %d", p, percent)
	}
}
