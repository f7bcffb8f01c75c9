package gridgen

import "math"

// rng is splitmix64: small, fast, and its output for a seed never changes
// with the Go release, so a case id names the same log forever.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed ^ 0x5eed_6a1d_0b5e_55ed} }

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns an int in [0, n); n <= 0 gives 0.
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.u64() % uint64(n))
}

// between returns an int in [lo, hi].
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.float() < p }

// exp draws an exponential gap with the given mean.
func (r *rng) exp(mean float64) float64 {
	u := r.float()
	if u < 1e-12 {
		u = 1e-12
	}
	return -mean * math.Log(u)
}

func pick[T any](r *rng, s []T) T { return s[r.intn(len(s))] }

func shuffle[T any](r *rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// child derives an independent generator, so that adding draws to one part
// of a case does not move every other part.
func (r *rng) child(tag uint64) *rng { return newRNG(r.u64() ^ tag*0x9e3779b97f4a7c15) }
