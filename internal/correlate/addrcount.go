package correlate

import "strings"

// addrCounts counts per address, up to a number of addresses.
//
// A Go map that is assigned a key it already holds stores the new key's
// string: m[k] += n with a k that points into a read buffer would leave the
// map's key pointing there, and the key would change when the buffer is
// reused. addrCounts assigns only on insert, with its own copy.
type addrCounts struct {
	idx   map[string]int32 // address to its index in n
	n     []int32
	limit int
}

func newAddrCounts(limit int) addrCounts {
	return addrCounts{idx: map[string]int32{}, limit: limit}
}

// get returns the count of k.
func (a *addrCounts) get(k string) (int32, bool) {
	i, ok := a.idx[k]
	if !ok {
		return 0, false
	}
	return a.n[i], true
}

// add adds d to the count of k (saturating); a new address past the limit
// is not counted. It returns the count before.
func (a *addrCounts) add(k string, d int32) int32 {
	if i, ok := a.idx[k]; ok {
		old := a.n[i]
		a.n[i] = int32(min(int64(old)+int64(d), 1<<30))
		return old
	}
	if len(a.n) < a.limit {
		a.idx[strings.Clone(k)] = int32(len(a.n))
		a.n = append(a.n, d)
	}
	return 0
}

// data returns the counts in key order (for a snapshot).
func (a *addrCounts) data() []snapInt32 {
	out := make([]snapInt32, 0, len(a.n))
	for _, k := range sortedKeys(a.idx) {
		out = append(out, snapInt32{k, a.n[a.idx[k]]})
	}
	return out
}
