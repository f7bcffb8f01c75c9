package loggen

import (
	"math"
	"testing"
)

// TestDistributions checks the samplers' means and variances against theory.
func TestDistributions(t *testing.T) {
	r := newRNG(42)
	const n = 200_000
	tests := []struct {
		name     string
		draw     func() float64
		mean, sd float64 // expected mean and standard deviation
	}{
		{"exp1", r.exp1, 1, 1},
		{"exp(25)", func() float64 { return r.exp(25) }, 25, 25},
		{"poisson(0.3)", func() float64 { return float64(r.poisson(0.3)) }, 0.3, math.Sqrt(0.3)},
		{"poisson(14)", func() float64 { return float64(r.poisson(14)) }, 14, math.Sqrt(14)},
		{"f64", r.f64, 0.5, math.Sqrt(1.0 / 12)},
		{"between(3,9)", func() float64 { return float64(r.between(3, 9)) }, 6, 2},
	}
	for _, tc := range tests {
		sum, sq := 0.0, 0.0
		for i := 0; i < n; i++ {
			x := tc.draw()
			sum += x
			sq += x * x
		}
		mean := sum / n
		sd := math.Sqrt(sq/n - mean*mean)
		// Five standard errors for the mean, 3 % for the deviation.
		if math.Abs(mean-tc.mean) > 5*tc.sd/math.Sqrt(n) || math.Abs(sd-tc.sd) > 0.03*tc.sd {
			t.Errorf("%s: mean %.4f sd %.4f, want %.4f and %.4f", tc.name, mean, sd, tc.mean, tc.sd)
		}
	}
	if got := r.poisson(0); got != 0 {
		t.Errorf("poisson(0) = %d", got)
	}
	if got := r.intn(0) + r.intn(1) + r.intn(-3); got != 0 {
		t.Errorf("intn of n <= 1 = %d, want 0", got)
	}
}
