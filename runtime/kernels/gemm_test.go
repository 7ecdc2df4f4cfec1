package kernels

import (
	"fmt"
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

func TestSgemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
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
			Sgemm(isa, m, n, k, a, lda, b, ldb, c, ldc)
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
					Sgemm(isa, s, s, s, x, s, y, s, z, s)
				}
				b.ReportMetric(2*float64(s*s*s)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
