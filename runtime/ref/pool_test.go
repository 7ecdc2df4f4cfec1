package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type poolShape struct{ n, c, h, w, k, stride, pad int }

func (s poolShape) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_k%d_s%d_p%d", s.n, s.c, s.h, s.w, s.k, s.stride, s.pad)
}

func (s poolShape) out() int {
	return s.n * s.c * PoolOut(s.h, s.k, s.stride, s.pad) * PoolOut(s.w, s.k, s.stride, s.pad)
}

var poolShapes = []poolShape{
	{1, 1, 4, 4, 2, 2, 0},
	{2, 3, 7, 5, 3, 2, 1}, // the ImageNet stem's 3x3/2, non-square
	{1, 2, 5, 6, 3, 1, 1}, // overlapping windows
	{2, 1, 6, 6, 2, 2, 1},
	{1, 1, 1, 1, 1, 1, 0},
	{3, 2, 9, 8, 4, 3, 2},
}

// distinct returns n values in random order spaced 0.01 apart, so that no
// two are tied and no perturbation by finite differences reorders them.
func distinct(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i, p := range rng.Perm(n) {
		s[i] = float64(p-n/2) * 0.01
	}
	return s
}

// naiveMaxPool is max pooling with -Inf padding.
func naiveMaxPool(s poolShape, x []float64) ([]float64, []int32) {
	p, q := PoolOut(s.h, s.k, s.stride, s.pad), PoolOut(s.w, s.k, s.stride, s.pad)
	y, arg := make([]float64, s.n*s.c*p*q), make([]int32, s.n*s.c*p*q)
	for pl := range s.n * s.c {
		for i := range p {
			for j := range q {
				best, at := math.Inf(-1), int32(-1)
				for a := range s.k {
					for b := range s.k {
						hh, ww := i*s.stride-s.pad+a, j*s.stride-s.pad+b
						if hh < 0 || hh >= s.h || ww < 0 || ww >= s.w {
							continue
						}
						if v := x[pl*s.h*s.w+hh*s.w+ww]; v > best {
							best, at = v, int32(hh*s.w+ww)
						}
					}
				}
				y[(pl*p+i)*q+j], arg[(pl*p+i)*q+j] = best, at
			}
		}
	}
	return y, arg
}

func TestMaxPool(t *testing.T) {
	for _, s := range poolShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(s.h)))
			x, r := distinct(rng, s.n*s.c*s.h*s.w), randSlice(rng, s.out())
			y, arg := make([]float64, s.out()), make([]int32, s.out())
			MaxPool(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, x, y, arg)
			wantY, wantArg := naiveMaxPool(s, x)
			if d := maxRelDiff(y, wantY); d != 0 {
				t.Errorf("y differs by %g", d)
			}
			for i := range arg {
				if arg[i] != wantArg[i] {
					t.Fatalf("arg[%d] = %d, want %d", i, arg[i], wantArg[i])
				}
			}
			loss := func() float64 {
				MaxPool(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, x, y, arg)
				return dot(y, r)
			}
			dx := randSlice(rng, len(x)) // garbage, to be overwritten
			MaxPoolBackward(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, r, wantArg, dx)
			checkGrad(t, "dx", x, dx, loss)

			y32, arg32 := make([]float32, s.out()), make([]int32, s.out())
			MaxPool(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, toFloat32(x), y32, arg32)
			if d := maxRelDiff(toFloat64(y32), wantY); d > 1e-7 {
				t.Errorf("float32 y differs by %g", d)
			}
		})
	}
}

func TestMaxPoolTies(t *testing.T) {
	// A 3x3 plane of equal values, 2x2 windows, stride 1, padding 1: each
	// maximum is the first in-bounds value of its window.
	x := make([]float64, 9)
	y, arg := make([]float64, 16), make([]int32, 16)
	MaxPool(1, 1, 3, 3, 2, 1, 1, x, y, arg)
	want := []int32{0, 0, 1, 2, 0, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8}
	for i := range arg {
		if arg[i] != want[i] {
			t.Fatalf("arg = %v, want %v", arg, want)
		}
	}
}

func TestGlobalAvgPool(t *testing.T) {
	tests := []struct{ n, c, hw int }{{1, 1, 1}, {2, 3, 5}, {3, 7, 49}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n%d_c%d_hw%d", tt.n, tt.c, tt.hw), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(tt.hw)))
			x, r := randSlice(rng, tt.n*tt.c*tt.hw), randSlice(rng, tt.n*tt.c)
			y := make([]float64, tt.n*tt.c)
			GlobalAvgPool(tt.n, tt.c, tt.hw, x, y)
			for i := range y {
				var s float64
				for j := range tt.hw {
					s += x[i*tt.hw+j]
				}
				if relDiff(y[i], s/float64(tt.hw)) > 1e-15 {
					t.Fatalf("y[%d] = %v, want %v", i, y[i], s/float64(tt.hw))
				}
			}
			loss := func() float64 {
				GlobalAvgPool(tt.n, tt.c, tt.hw, x, y)
				return dot(y, r)
			}
			dx := make([]float64, len(x))
			GlobalAvgPoolBackward(tt.n, tt.c, tt.hw, r, dx)
			checkGrad(t, "dx", x, dx, loss)
		})
	}
}

func TestPoolPanics(t *testing.T) {
	x, y, arg := make([]float32, 16), make([]float32, 4), make([]int32, 4)
	expectPanic(t, "MaxPool pad >= k", func() { MaxPool(1, 1, 4, 4, 2, 2, 2, x, y, arg) })
	expectPanic(t, "MaxPool short arg", func() { MaxPool(1, 1, 4, 4, 2, 2, 0, x, y, arg[1:]) })
	expectPanic(t, "MaxPoolBackward short dx", func() { MaxPoolBackward(1, 1, 4, 4, 2, 2, 0, y, arg, x[1:]) })
	expectPanic(t, "GlobalAvgPool short y", func() { GlobalAvgPool(1, 4, 4, x, y[1:]) })
	expectPanic(t, "GlobalAvgPoolBackward short dx", func() { GlobalAvgPoolBackward(1, 4, 4, y, x[1:]) })
}
