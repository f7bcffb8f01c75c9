package correlate

import (
	"hash/maphash"
	"sort"
	"strings"
)

var counterSeed = maphash.MakeSeed()

// Counter counts strings, tracking at most a fixed number of distinct keys;
// past the cap new keys are counted in Overflow only.
//
// The keys sit in one slice beside their hashes: a lookup compares
// integers in contiguous memory and reads a kept key only to confirm a
// match. A map of strings to counts costs the scan's sequential stage
// several cache misses per lookup (map, slot, key bytes, count), and a
// login's counters are looked up for every message it sends.
type Counter struct {
	ents     []centry
	idx      map[uint64]int32 // hash to its newest entry, once past linearMax entries
	live     int              // entries with a count above zero
	limit    int
	Overflow int
}

type centry struct {
	h    uint64
	n    int
	next int32 // the next older entry with the same hash (idx's chain), -1 for none
	// a key of up to inlineKey bytes is also kept here, beside its hash,
	// so that confirming a match reads no other memory (IPs, most domains)
	klen uint8 // the key's length, if at most inlineKey; else inlineKey+1
	inl  [inlineKey]byte
	key  string
}

const inlineKey = 32

// is tells whether the entry's key is key (whose hash is h).
func (e *centry) is(key string, h uint64) bool {
	if e.h != h {
		return false
	}
	if int(e.klen) <= inlineKey {
		return int(e.klen) == len(key) && string(e.inl[:e.klen]) == key
	}
	return e.key == key
}

// linearMax is how many entries are searched by a scan of the slice before
// the counter builds an index.
const linearMax = 8

// NewCounter returns a counter that tracks up to limit keys.
func NewCounter(limit int) *Counter { return &Counter{limit: limit} }

func (c *Counter) find(key string, h uint64) int {
	if c.idx == nil {
		for i := range c.ents {
			if c.ents[i].is(key, h) {
				return i
			}
		}
		return -1
	}
	i, ok := c.idx[h]
	if !ok {
		return -1
	}
	for i >= 0 {
		if c.ents[i].is(key, h) {
			return int(i)
		}
		i = c.ents[i].next
	}
	return -1
}

func (c *Counter) insert(key string, h uint64, n int) {
	i := int32(len(c.ents))
	c.ents = append(c.ents, centry{h: h, key: key, n: n, next: -1, klen: inlineKey + 1})
	if e := &c.ents[i]; len(key) <= inlineKey {
		e.klen = uint8(copy(e.inl[:], key))
	}
	c.live++
	if c.idx != nil {
		c.link(i)
		return
	}
	if len(c.ents) > linearMax {
		c.idx = make(map[uint64]int32, 2*len(c.ents))
		for j := range c.ents {
			c.link(int32(j))
		}
	}
}

func (c *Counter) link(i int32) {
	e := &c.ents[i]
	if j, ok := c.idx[e.h]; ok {
		e.next = j
	}
	c.idx[e.h] = i
}

// Add counts key n times (copying the key when it is new) and returns the
// counter's own copy of the key (which callers may keep; a fresh copy when
// it is past the cap) and whether it is new. A key whose count falls to
// zero or below is no longer tracked.
func (c *Counter) Add(key string, n int) (kept string, isNew bool) {
	if key == "" {
		return "", false
	}
	h := maphash.String(counterSeed, key)
	if i := c.find(key, h); i >= 0 {
		e := &c.ents[i]
		switch {
		case e.n > 0:
			e.n += n
			if e.n <= 0 {
				e.n = 0
				c.live--
			}
			return e.key, false
		case n > 0 && c.live < c.limit: // counted again after falling to zero
			e.n = n
			c.live++
			return e.key, true
		}
	}
	if n <= 0 {
		return key, false
	}
	if c.live >= c.limit {
		c.Overflow += n
		return strings.Clone(key), true
	}
	kept = strings.Clone(key)
	c.insert(kept, h, n)
	return kept, true
}

// Has tells whether key was counted.
func (c *Counter) Has(key string) bool { return c.Count(key) > 0 }

// Len returns the number of distinct keys tracked.
func (c *Counter) Len() int { return c.live }

// Count returns the count of key.
func (c *Counter) Count(key string) int {
	if i := c.find(key, maphash.String(counterSeed, key)); i >= 0 {
		return c.ents[i].n
	}
	return 0
}

// Top returns up to n keys, highest counts first, ties by key.
func (c *Counter) Top(n int) []KeyCount {
	out := c.sorted()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// sorted returns the tracked keys and their counts, by key.
func (c *Counter) sorted() []KeyCount {
	out := make([]KeyCount, 0, c.live)
	for _, e := range c.ents {
		if e.n > 0 {
			out = append(out, KeyCount{e.key, e.n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// KeyCount is one row of Counter.Top.
type KeyCount struct {
	Key   string
	Count int
}
