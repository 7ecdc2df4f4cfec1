package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netc/netc/runtime/ref"
)

// Blocked max pooling equals ref's exactly, forward and backward, ties
// and overlapping windows included.
func TestMaxPoolMatchesRef(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(31, 32)))
	for _, s := range []struct{ n, c, h, w, k, stride, pad int }{
		{2, 16, 9, 7, 3, 2, 1}, {1, 32, 8, 8, 2, 2, 0}, {3, 16, 5, 6, 3, 1, 1},
	} {
		p, q := ref.PoolOut(s.h, s.k, s.stride, s.pad), ref.PoolOut(s.w, s.k, s.stride, s.pad)
		x, dy := rnd(s.n*s.c*s.h*s.w), rnd(s.n*s.c*p*q)
		for i := range x {
			if i%5 == 0 {
				x[i] = 0 // ties, as after a ReLU
			}
		}
		y, arg := make([]float32, len(dy)), make([]int32, len(dy))
		ref.MaxPool(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, x, y, arg)
		dx := make([]float32, len(x))
		ref.MaxPoolBackward(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, dy, arg, dx)

		by, barg := make([]float32, len(dy)), make([]int32, len(dy))
		MaxPool(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, blocked(s.n, s.c, s.h*s.w, x), by, barg)
		if got := plain(s.n, s.c, p*q, by); !slices.Equal(got, y) {
			t.Errorf("%+v: max pool differs from ref", s)
		}
		bdx := make([]float32, len(x))
		MaxPoolBackward(s.n, s.c, s.h, s.w, s.k, s.stride, s.pad, blocked(s.n, s.c, p*q, dy), barg, bdx)
		if got := plain(s.n, s.c, s.h*s.w, bdx); !slices.Equal(got, dx) {
			t.Errorf("%+v: max pool gradient differs from ref", s)
		}
	}
}
