package correlate

import (
	"fmt"
	"maps"
	"testing"
)

// TestCounterAgainstMap drives a Counter and a plain map with the same
// additions, across the switch from the linear scan to the index, and
// compares everything they report.
func TestCounterAgainstMap(t *testing.T) {
	c := NewCounter(40)
	want := map[string]int{}
	overflow := 0
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("192.0.2.%d", (i*7919)%53)
		if x := (i * 7919) % 53; x%3 == 1 {
			// keys kept beside the hash, and longer ones (32 bytes
			// and more: the same first 32 bytes, then the number)
			k = fmt.Sprintf("%030d-%d", 0, x)
		}
		n := 1 + i%3
		if i%11 == 0 {
			n = -2 // falls to zero now and then: no longer tracked
		}
		kept, isNew := c.Add(k, n)
		if kept != k {
			t.Fatalf("Add(%q) kept %q", k, kept)
		}
		old, had := want[k]
		switch {
		case had:
			if isNew {
				t.Fatalf("Add(%q): new, but it was tracked", k)
			}
			if want[k] = old + n; want[k] <= 0 {
				delete(want, k)
			}
		case n > 0 && len(want) < 40:
			want[k] = n
			if !isNew {
				t.Fatalf("Add(%q): not new", k)
			}
		case n > 0:
			overflow += n
		}
		if c.Len() != len(want) {
			t.Fatalf("step %d: Len %d, want %d", i, c.Len(), len(want))
		}
	}
	got := map[string]int{}
	for _, kc := range c.Top(1000) {
		got[kc.Key] = kc.Count
	}
	if !maps.Equal(got, want) {
		t.Fatalf("Top = %v\nwant %v", got, want)
	}
	for k, n := range want {
		if c.Count(k) != n || !c.Has(k) {
			t.Fatalf("Count(%q) = %d, want %d", k, c.Count(k), n)
		}
	}
	if c.Has("203.0.113.1") || c.Count("203.0.113.1") != 0 {
		t.Fatal("an unknown key is reported")
	}
	if c.Overflow != overflow {
		t.Fatalf("Overflow %d, want %d", c.Overflow, overflow)
	}
}

// TestCounterHashCollisions checks that keys sharing a hash stay apart, in
// the linear scan and in the index's chains.
func TestCounterHashCollisions(t *testing.T) {
	key := func(i int) string {
		if i%3 == 0 {
			return fmt.Sprintf("%032d%d", 0, i) // longer than what is kept beside the hash
		}
		return fmt.Sprint("k", i)
	}
	for _, n := range []int{3, 30} {
		c := NewCounter(100)
		for i := 0; i < n; i++ {
			c.insert(key(i), uint64(i%2), i+1) // two hashes for all keys
		}
		for i := 0; i < n; i++ {
			k := key(i)
			if i := c.find(k, uint64(i%2)); i < 0 || c.ents[i].key != k {
				t.Fatalf("%d keys: %q not found", n, k)
			}
			if c.find(k, uint64(1-i%2)) >= 0 {
				t.Fatalf("%d keys: %q found under the other hash", n, k)
			}
		}
		if c.find("absent", 0) >= 0 {
			t.Fatalf("%d keys: an absent key is found", n)
		}
	}
}

func BenchmarkCounterAdd(b *testing.B) {
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("198.51.100.%d", i)
	}
	for _, n := range []int{2, 8, 64} {
		b.Run(fmt.Sprint(n, "keys"), func(b *testing.B) {
			c := NewCounter(10000)
			i := 0
			for b.Loop() {
				c.Add(keys[i%n], 1)
				i++
			}
		})
	}
}
