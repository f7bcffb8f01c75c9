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
		{40 << 20, gcFloor},             // the bench's logs: the floor binds
		{60 << 20, 60<<20 + gcHeadroom}, // many logins: room to allocate between cycles
		{400 << 20, 500 << 20},          // a quarter of the live heap, if more
		{math.MaxUint64, math.MaxInt64/4 + math.MaxInt64/16},
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
	stop := tuneGC()
	if got := debug.SetMemoryLimit(-1); got < gcFloor || got == before {
		t.Errorf("limit during the scan %d", got)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after the scan %d, want %d", got, before)
	}
}
