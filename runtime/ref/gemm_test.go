package ref

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// naiveGemm computes c = a·b (+ c if acc) with a triple loop.
func naiveGemm(m, n, k int, a, b Matrix[float64], c []float64, ldc int, acc bool) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += a.Data[i*a.RS+p*a.CS] * b.Data[p*b.RS+j*b.CS]
			}
			if acc {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}

func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		m, n, k     int
		ta, tb, acc bool
	}{
		{1, 1, 1, false, false, false},
		{2, 4, 4, false, false, false},
		{3, 5, 7, false, false, true},
		{7, 9, 13, true, false, false},
		{16, 33, 10, false, true, false},
		{5, 3, 300, true, true, true},
		{mc + 3, 2*nr + 1, kc + 5, false, false, true},
		{2*mc + 1, 17, 2*kc + 1, true, true, false},
		{3, nc + 5, 9, false, true, true},
		{65, 70, 0, false, false, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%dx%dx%d/ta=%v/tb=%v/acc=%v", tt.m, tt.n, tt.k, tt.ta, tt.tb, tt.acc)
		t.Run(name, func(t *testing.T) {
			a := randSlice(rng, tt.m*tt.k)
			b := randSlice(rng, tt.k*tt.n)
			am := Matrix[float64]{a, tt.k, 1}
			if tt.ta {
				am = Matrix[float64]{a, 1, tt.m}
			}
			bm := Matrix[float64]{b, tt.n, 1}
			if tt.tb {
				bm = Matrix[float64]{b, 1, tt.k}
			}
			ldc := tt.n + 3 // a row stride wider than the product
			got := randSlice(rng, tt.m*ldc)
			want := append([]float64(nil), got...)
			gemm(tt.m, tt.n, tt.k, am, bm, got, ldc, tt.acc)
			naiveGemm(tt.m, tt.n, tt.k, am, bm, want, ldc, tt.acc)
			if d := maxRelDiff(got, want); d > 1e-12 {
				t.Errorf("max relative difference %g", d)
			}
		})
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{64, 3136, 576}, {256, 256, 256}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			a := toFloat32(randSlice(rng, s.m*s.k))
			bb := toFloat32(randSlice(rng, s.k*s.n))
			c := make([]float32, s.m*s.n)
			for b.Loop() {
				gemm(s.m, s.n, s.k, Matrix[float32]{a, s.k, 1}, Matrix[float32]{bb, s.n, 1}, c, s.n, false)
			}
			reportGFLOPs(b, 2*s.m*s.n*s.k)
		})
	}
}
