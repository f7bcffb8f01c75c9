package policy

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// Observation is what one request adds to its login's counters.
type Observation struct {
	Login      string // normalized (lower case)
	Messages   int    // 1 for the first request of a message, else 0
	Recipients int
	// Hashes of the client IP, its network and the sender domain; 0 means
	// none. They are only set with Messages == 1.
	ClientIP, ClientNet, SenderDomain uint64
	Foreign                           int // 1 if the sender is outside the login's domains
}

// Totals are a login's counts after an observation. Index 0, 1, 2 of
// Messages and Recipients are the minute, hour and day windows.
type Totals struct {
	Messages       [3]int
	Recipients     [3]int
	ClientIPs      int
	ClientNetworks int
	SenderDomains  int
	ForeignSenders int
}

// Counters keep per-login counts. Observe adds obs at time now and returns
// the login's totals. Implementations: LocalCounters (one process) and
// RedisCounters (a fleet).
type Counters interface {
	Observe(ctx context.Context, obs Observation, now time.Time) (Totals, error)
	// Reset forgets a login's counts: a lifted block starts from zero, or
	// the counts that tripped it would block the login again at once.
	Reset(ctx context.Context, login string) error
}

// Windows are bucketed: a window of n buckets of width w counts the current
// bucket and the n-1 before it, so it covers between (n-1)*w and n*w.
const (
	minuteWidth, minuteBuckets = 10, 6        // seconds
	hourWidth, hourBuckets     = 300, 12      // 5 minutes
	dayWidth, dayBuckets       = 3600, 24     // 1 hour
	distinctWindow             = 3600         // seconds
	stateTTL                   = 86400 + 3600 // idle logins are evicted after this
)

type bucket struct {
	Slot int64  `json:"s"`
	N    uint32 `json:"n"`
}

func addBucket(bs []bucket, width, now int64, n uint32) {
	slot := now / width
	b := &bs[int(slot%int64(len(bs)))]
	if b.Slot != slot {
		b.Slot, b.N = slot, 0
	}
	b.N += n
}

func sumBuckets(bs []bucket, width, now int64) int {
	slot := now / width
	lo := slot - int64(len(bs))
	s := 0
	for _, b := range bs {
		if b.Slot > lo && b.Slot <= slot {
			s += int(b.N)
		}
	}
	return s
}

type windows struct {
	Minute [minuteBuckets]bucket
	Hour   [hourBuckets]bucket
	Day    [dayBuckets]bucket
}

// compactWindows is the snapshot form of windows: only non-empty buckets,
// as [slot, count] pairs, so an idle login costs a few bytes.
type compactWindows struct {
	M [][2]int64 `json:"m,omitempty"`
	H [][2]int64 `json:"h,omitempty"`
	D [][2]int64 `json:"d,omitempty"`
}

func compact(bs []bucket) [][2]int64 {
	var out [][2]int64
	for _, b := range bs {
		if b.N != 0 {
			out = append(out, [2]int64{b.Slot, int64(b.N)})
		}
	}
	return out
}

func expand(bs []bucket, pairs [][2]int64) {
	for _, p := range pairs {
		if p[0] < 0 || p[1] <= 0 || p[1] > math.MaxUint32 {
			continue
		}
		bs[int(p[0]%int64(len(bs)))] = bucket{Slot: p[0], N: uint32(p[1])}
	}
}

// MarshalJSON implements json.Marshaler.
func (w windows) MarshalJSON() ([]byte, error) {
	return json.Marshal(compactWindows{compact(w.Minute[:]), compact(w.Hour[:]), compact(w.Day[:])})
}

// UnmarshalJSON implements json.Unmarshaler.
func (w *windows) UnmarshalJSON(b []byte) error {
	var c compactWindows
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	*w = windows{}
	expand(w.Minute[:], c.M)
	expand(w.Hour[:], c.H)
	expand(w.Day[:], c.D)
	return nil
}

// hourRing is the foreign-sender window.
type hourRing [hourBuckets]bucket

// MarshalJSON implements json.Marshaler.
func (r hourRing) MarshalJSON() ([]byte, error) { return json.Marshal(compact(r[:])) }

// UnmarshalJSON implements json.Unmarshaler.
func (r *hourRing) UnmarshalJSON(b []byte) error {
	var pairs [][2]int64
	if err := json.Unmarshal(b, &pairs); err != nil {
		return err
	}
	*r = hourRing{}
	expand(r[:], pairs)
	return nil
}

func (w *windows) add(now int64, n int) {
	if n <= 0 {
		return
	}
	addBucket(w.Minute[:], minuteWidth, now, uint32(n))
	addBucket(w.Hour[:], hourWidth, now, uint32(n))
	addBucket(w.Day[:], dayWidth, now, uint32(n))
}

func (w *windows) sums(now int64) [3]int {
	return [3]int{
		sumBuckets(w.Minute[:], minuteWidth, now),
		sumBuckets(w.Hour[:], hourWidth, now),
		sumBuckets(w.Day[:], dayWidth, now),
	}
}

type seen struct {
	H    uint64 `json:"h"`
	Last int64  `json:"t"`
}

// distinct remembers up to maxDistinct values with the time each was last
// seen; when full, the value seen longest ago is forgotten.
type distinct []seen

func (d *distinct) add(h uint64, now int64) {
	if h == 0 {
		return
	}
	oldest := -1
	for i := range *d {
		e := &(*d)[i]
		if e.H == h {
			e.Last = now
			return
		}
		if oldest < 0 || e.Last < (*d)[oldest].Last {
			oldest = i
		}
	}
	if len(*d) < maxDistinct {
		*d = append(*d, seen{h, now})
		return
	}
	(*d)[oldest] = seen{h, now}
}

func (d distinct) count(now int64) int {
	n := 0
	for _, e := range d {
		if e.Last > now-distinctWindow && e.Last <= now {
			n++
		}
	}
	return n
}

type loginState struct {
	Msgs    windows  `json:"msgs"`
	Rcpts   windows  `json:"rcpts"`
	Foreign hourRing `json:"foreign"`
	IPs     distinct `json:"ips,omitempty"`
	Nets    distinct `json:"nets,omitempty"`
	Doms    distinct `json:"doms,omitempty"`
	Last    int64    `json:"last"`
}

func (s *loginState) observe(o Observation, now int64) Totals {
	s.Msgs.add(now, o.Messages)
	s.Rcpts.add(now, o.Recipients)
	if o.Foreign > 0 {
		addBucket(s.Foreign[:], hourWidth, now, uint32(o.Foreign))
	}
	s.IPs.add(o.ClientIP, now)
	s.Nets.add(o.ClientNet, now)
	s.Doms.add(o.SenderDomain, now)
	if now > s.Last {
		s.Last = now
	}
	return Totals{
		Messages:       s.Msgs.sums(now),
		Recipients:     s.Rcpts.sums(now),
		ClientIPs:      s.IPs.count(now),
		ClientNetworks: s.Nets.count(now),
		SenderDomains:  s.Doms.count(now),
		ForeignSenders: sumBuckets(s.Foreign[:], hourWidth, now),
	}
}

const numShards = 32

// LocalCounters keeps counters in this process's memory, bounded to a
// maximum number of logins. Logins idle for a day are evicted by Sweep and,
// when a shard is full, the least recently active login is evicted.
type LocalCounters struct {
	shards   [numShards]shard
	perShard int
}

type shard struct {
	mu sync.Mutex
	m  map[string]*loginState
}

// NewLocalCounters returns counters for at most maxLogins logins.
func NewLocalCounters(maxLogins int) *LocalCounters {
	c := &LocalCounters{perShard: max(1, maxLogins/numShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*loginState)
	}
	return c
}

func shardIndex(login string) int {
	// FNV-1a, inlined to avoid an allocation.
	h := uint32(2166136261)
	for i := 0; i < len(login); i++ {
		h ^= uint32(login[i])
		h *= 16777619
	}
	return int(h % numShards)
}

// Observe implements Counters. It never fails.
func (c *LocalCounters) Observe(_ context.Context, o Observation, now time.Time) (Totals, error) {
	ts := now.Unix()
	sh := &c.shards[shardIndex(o.Login)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.m[o.Login]
	if st == nil {
		if len(sh.m) >= c.perShard {
			sh.evict(ts, c.perShard*9/10)
		}
		st = &loginState{}
		sh.m[o.Login] = st
	}
	return st.observe(o, ts), nil
}

// Reset implements Counters.
func (c *LocalCounters) Reset(_ context.Context, login string) error {
	sh := &c.shards[shardIndex(login)]
	sh.mu.Lock()
	delete(sh.m, login)
	sh.mu.Unlock()
	return nil
}

// evict drops expired logins, then the least recently active ones until at
// most keep remain. Called with the lock held.
func (sh *shard) evict(now int64, keep int) int {
	n := 0
	for k, st := range sh.m {
		if st.Last < now-stateTTL {
			delete(sh.m, k)
			n++
		}
	}
	if len(sh.m) <= keep {
		return n
	}
	type kv struct {
		k    string
		last int64
	}
	all := make([]kv, 0, len(sh.m))
	for k, st := range sh.m {
		all = append(all, kv{k, st.Last})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].last < all[j].last })
	for _, e := range all[:len(all)-keep] {
		delete(sh.m, e.k)
		n++
	}
	return n
}

// Sweep evicts logins idle for longer than the longest window and returns
// how many it evicted.
func (c *LocalCounters) Sweep(now time.Time) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.evict(now.Unix(), len(sh.m))
		sh.mu.Unlock()
	}
	return n
}

// Len returns the number of logins with counters.
func (c *LocalCounters) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// snapshot copies the state of every login active since since.
func (c *LocalCounters) snapshot(since time.Time) map[string]loginState {
	out := make(map[string]loginState)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, st := range sh.m {
			if st.Last < since.Unix() {
				continue
			}
			cp := *st
			cp.IPs = append(distinct(nil), st.IPs...)
			cp.Nets = append(distinct(nil), st.Nets...)
			cp.Doms = append(distinct(nil), st.Doms...)
			out[k] = cp
		}
		sh.mu.Unlock()
	}
	return out
}

// restore loads states saved by snapshot, skipping invalid entries.
func (c *LocalCounters) restore(m map[string]loginState) {
	for k, st := range m {
		if k == "" || len(k) > DefaultLimits.MaxLine || len(st.IPs) > maxDistinct || len(st.Nets) > maxDistinct || len(st.Doms) > maxDistinct {
			continue
		}
		sh := &c.shards[shardIndex(k)]
		sh.mu.Lock()
		if len(sh.m) < c.perShard {
			cp := st
			sh.m[k] = &cp
		}
		sh.mu.Unlock()
	}
}

// hash64 is FNV-1a 64 of s, never 0 (0 means "no value"). It is stable
// across processes so that snapshots and Redis agree.
func hash64(s string) uint64 {
	if s == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	v := h.Sum64()
	if v == 0 {
		v = 1
	}
	return v
}

// normalizeLogin is the key counters and blocks use.
func normalizeLogin(s string) string { return strings.ToLower(s) }
