package kernels

import (
	"fmt"
	"github.com/netc/netc/runtime/ref"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the oracle: C += A·B in float64.
func naiveGemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := float64(c[i*ldc+j])
			for p := range k {
				s += float64(a[i*lda+p]) * float64(b[p*ldb+j])
			}
			out[i*n+j] = s
		}
	}
	return out
}

// normals returns a function that draws n standard normal float32 values.
func normals(rng *rand.Rand) func(n int) []float32 {
	return func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
}

func TestSgemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := normals(rng)
	for _, isa := range Available() {
		for _, sh := range [][3]int{
			{1, 1, 1}, {6, 16, 1}, {14, 32, 3}, {5, 7, 9}, {7, 17, 300}, {13, 33, 64},
			{15, 31, 257}, {28, 64, 512}, {64, 100, 37}, {100, 3, 700}, {3, 200, 5},
		} {
			m, n, k := sh[0], sh[1], sh[2]
			lda, ldb, ldc := k+3, n+1, n+5 // strides wider than the rows
			a, b, c := rnd(m*lda), rnd(k*ldb), rnd(m*ldc)
			want := naiveGemm(m, n, k, a, lda, b, ldb, c, ldc)
			orig := append([]float32(nil), c...)
			Sgemm(isa, m, n, k, ref.Matrix[float32]{Data: a, RS: lda, CS: 1}, ref.Matrix[float32]{Data: b, RS: ldb, CS: 1}, c, ldc, true)
			for i := range m {
				for j := range n {
					got, w := float64(c[i*ldc+j]), want[i*n+j]
					if math.Abs(got-w) > 1e-5*math.Sqrt(float64(k))*math.Max(1, math.Abs(w)) {
						t.Fatalf("%s m=%d n=%d k=%d: C[%d,%d] = %v, want %v", isa, m, n, k, i, j, got, w)
					}
				}
			}
			for i := range m { // the padding between rows is untouched
				for j := n; j < ldc; j++ {
					if c[i*ldc+j] != orig[i*ldc+j] {
						t.Fatalf("%s m=%d n=%d k=%d: wrote C[%d,%d] outside the matrix", isa, m, n, k, i, j)
					}
				}
			}
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, isa := range Available() {
		for _, s := range []int{64, 256, 512} {
			b.Run(fmt.Sprintf("%s/%d", isa, s), func(b *testing.B) {
				x, y, z := make([]float32, s*s), make([]float32, s*s), make([]float32, s*s)
				for b.Loop() {
					Sgemm(isa, s, s, s, ref.Matrix[float32]{Data: x, RS: s, CS: 1}, ref.Matrix[float32]{Data: y, RS: s, CS: 1}, z, s, false)
				}
				b.ReportMetric(2*float64(s*s*s)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// The convolutions on Sgemm equal the reference ones (whose transposed
// operands exercise the strided packing).
func TestConvolverMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := normals(rng)
	for _, isa := range Available() {
		cv := Convolver(isa)
		for _, c := range []ref.Conv{
			{N: 3, C: 5, H: 9, W: 7, K: 17, R: 3, S: 3, Stride: 1, Pad: 1},
			{N: 2, C: 16, H: 14, W: 14, K: 32, R: 3, S: 3, Stride: 2, Pad: 1},
			{N: 1, C: 64, H: 8, W: 8, K: 33, R: 1, S: 1, Stride: 1, Pad: 0},
			{N: 17, C: 3, H: 12, W: 10, K: 8, R: 7, S: 7, Stride: 2, Pad: 3},
			{N: 2, C: 300, H: 5, W: 5, K: 20, R: 1, S: 1, Stride: 2, Pad: 0},
		} {
			x, w, dy := rnd(c.N*c.C*c.H*c.W), rnd(c.K*c.C*c.R*c.S), rnd(c.N*c.K*c.P()*c.Q())
			for _, op := range []struct {
				name      string
				fast, ref func() []float32
			}{
				{"fwd", func() []float32 { y := make([]float32, len(dy)); cv.Conv2D(c, x, w, y); return y },
					func() []float32 { y := make([]float32, len(dy)); ref.Conv2D(c, x, w, y); return y }},
				{"bwd_data", func() []float32 { dx := make([]float32, len(x)); cv.Conv2DBackwardData(c, dy, w, dx); return dx },
					func() []float32 { dx := make([]float32, len(x)); ref.Conv2DBackwardData(c, dy, w, dx); return dx }},
				{"bwd_weight", func() []float32 { dw := make([]float32, len(w)); cv.Conv2DBackwardWeight(c, x, dy, dw); return dw },
					func() []float32 { dw := make([]float32, len(w)); ref.Conv2DBackwardWeight(c, x, dy, dw); return dw }},
			} {
				got, want := op.fast(), op.ref()
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
						t.Fatalf("%s %v %s[%d]: %v, ref %v", isa, c, op.name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
