package ref

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randSlice returns n values uniform in [-1, 1).
func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 2*rng.Float64() - 1
	}
	return s
}

func toFloat32(s []float64) []float32 {
	t := make([]float32, len(s))
	for i, v := range s {
		t[i] = float32(v)
	}
	return t
}

func toFloat64(s []float32) []float64 {
	t := make([]float64, len(s))
	for i, v := range s {
		t[i] = float64(v)
	}
	return t
}

// relDiff is |a-b| / max(1, |a|, |b|).
func relDiff(a, b float64) float64 {
	return math.Abs(a-b) / max(1, math.Abs(a), math.Abs(b))
}

// maxRelDiff is the largest relDiff between corresponding elements; it is
// +Inf if the lengths differ.
func maxRelDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		if r := relDiff(a[i], b[i]); r > d || math.IsNaN(r) {
			d = r
		}
	}
	return d
}

// reportGFLOPs reports flops per iteration as GFLOP/s.
func reportGFLOPs(b *testing.B, flops int) {
	b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// dot is the sum of a[i]·b[i].
func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// checkGrad compares grad, the analytic gradient of loss with respect to x,
// with central differences of loss, perturbing x in place and restoring
// it. It reports the first element that disagrees.
func checkGrad(t *testing.T, name string, x, grad []float64, loss func() float64) {
	t.Helper()
	const h, tol = 1e-5, 1e-6
	if len(grad) != len(x) {
		t.Fatalf("%s: len(grad) = %d, want %d", name, len(grad), len(x))
	}
	for i, v := range x {
		x[i] = v + h
		lp := loss()
		x[i] = v - h
		lm := loss()
		x[i] = v
		num := (lp - lm) / (2 * h)
		if d := relDiff(num, grad[i]); !(d < tol) {
			t.Errorf("%s[%d]: analytic %.10g, numeric %.10g (relative difference %.2g)", name, i, grad[i], num, d)
			return
		}
	}
}

// as converts s to element type T.
func as[T Float](s []float64) []T {
	if s == nil {
		return nil
	}
	t := make([]T, len(s))
	for i, v := range s {
		t[i] = T(v)
	}
	return t
}

// f64 converts s to float64.
func f64[T Float](s []T) []float64 {
	if s == nil {
		return nil
	}
	t := make([]float64, len(s))
	for i, v := range s {
		t[i] = float64(v)
	}
	return t
}

// compareOutputs checks that float32 and float64 runs of an op agree: each
// output in got (float32 results) and want (float64 results), in order,
// named by names.
func compareOutputs(t *testing.T, names []string, got, want [][]float64, tol float64) {
	t.Helper()
	for i, name := range names {
		if d := maxRelDiff(got[i], want[i]); !(d <= tol) {
			t.Errorf("%s: float32 and float64 differ by %g", name, d)
		}
	}
}

// positive returns n values uniform in [lo, hi).
func positive(rng *rand.Rand, n int, lo, hi float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = lo + (hi-lo)*rng.Float64()
	}
	return s
}

// expectPanic runs f and reports an error if it does not panic.
func expectPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}
