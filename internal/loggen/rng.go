package loggen

import "math/bits"

// rng is xoshiro256** seeded with splitmix64. It is written out here rather
// than taken from math/rand so that the byte stream for a seed can never
// change with the Go version.
type rng struct{ s [4]uint64 }

func newRNG(seed uint64) *rng {
	r := &rng{}
	for i := range r.s {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
	return r
}

func rotl(x uint64, k uint) uint64 { return (x << k) | (x >> (64 - k)) }

func (r *rng) u64() uint64 {
	s := &r.s
	res := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return res
}

// intn returns a value in [0, n); n <= 0 gives 0.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// dur returns a duration in [0, n) microseconds (n <= 0 gives 0); unlike
// intn it does not overflow on 32-bit platforms.
func (r *rng) dur(n int64) int64 {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int64(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rng) f64() float64 { return float64(r.u64()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.f64() < p }

// exp returns an exponentially distributed value with the given mean.
func (r *rng) exp(mean float64) float64 { return float64(mean * r.exp1()) } // no fused multiply-add

// exp1 draws from the exponential distribution with mean 1 by von Neumann's
// method, which needs only comparisons of uniform variates. Unlike math.Log
// and math.Exp (assembly on some architectures) it gives the same bits on
// every machine, so a seed means the same log everywhere.
func (r *rng) exp1() float64 {
	for k := 0; ; k++ {
		u := r.f64()
		n, prev := 1, u
		for {
			v := r.f64()
			if v >= prev {
				break
			}
			prev = v
			n++
		}
		if n%2 == 1 {
			return float64(k) + u
		}
	}
}

// poisson samples a Poisson variate by counting exponential arrivals;
// its cost grows with the mean, which stays below a few dozen here.
func (r *rng) poisson(mean float64) int {
	n := 0
	for s := r.exp1(); s <= mean; s += r.exp1() {
		n++
	}
	return n
}

// pick returns a random element of a non-empty slice.
func pick[T any](r *rng, s []T) T { return s[r.intn(len(s))] }
