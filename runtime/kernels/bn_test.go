package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netc/netc/runtime/ref"
)

// closeTo fails unless got is want within tol relative to the largest
// magnitude of want (at least 1).
func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale) {
			t.Fatalf("%s[%d]: %v, want %v", what, i, got[i], want[i])
		}
	}
}

// The norm layers on the kernels (blocked) equal runtime/ref's (plain,
// float64) within 1e-5, forward and backward, with and without a ReLU.
func TestNormLayersMatchRef(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(21, 22)))
	const eps = 1e-5
	for _, isa := range testISAs(t) {
		for _, s := range []struct{ n, c, hw, groups int }{
			{3, 32, 13, 8}, {2, 64, 49, 32}, {8, 16, 1, 1}, {4, 16, 7, 4}, {2, 48, 20, 3}, {1, 32, 3136, 4},
		} {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprint(isa, s, relu), func(t *testing.T) {
					n, c, hw := s.n, s.c, s.hw
					x, dy, gamma, beta := rnd(n*c*hw), rnd(n*c*hw), rnd(c), rnd(c)
					for i := range x {
						x[i] = 0.5 + 2*x[i]
					}
					bx, bdy := blocked(n, c, hw, x), blocked(n, c, hw, dy)
					x64, g64, b64 := f64(x), f64(gamma), f64(beta)
					// reluGrad applies the ReLU after the layer to a plain
					// gradient, given the layer's plain output.
					reluGrad := func(y []float64) []float64 {
						d := f64(dy)
						for i := range d {
							if relu && y[i] <= 0 {
								d[i] = 0
							}
						}
						return d
					}

					// BN with batch statistics, then with them frozen.
					mean, variance := make([]float32, c), make([]float32, c)
					BNStats(isa, n, c, hw, bx, mean, variance)
					m64, v64 := make([]float64, c), make([]float64, c)
					ref.BNStats(n, c, hw, x64, m64, v64)
					closeTo(t, "mean", mean, m64, 1e-5)
					closeTo(t, "variance", variance, v64, 1e-5)
					y := make([]float32, len(x))
					BNApply(isa, n, c, hw, bx, mean, variance, eps, gamma, beta, relu, y)
					y64 := make([]float64, len(x))
					ref.BNApply(n, c, hw, x64, m64, v64, eps, g64, b64, y64)
					dz := reluGrad(y64)
					if relu {
						for i, v := range y64 {
							y64[i] = max(0, v)
						}
					}
					closeTo(t, "BN y", plain(n, c, hw, y), y64, 1e-5)
					for _, frozen := range []bool{false, true} {
						dx, dg, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
						var mask []float32
						if relu {
							mask = y
						}
						BNBackward(isa, n, c, hw, bx, append([]float32(nil), bdy...), mask, mean, variance, eps, gamma, frozen, dx, dg, db)
						dx64, dg64, db64 := make([]float64, len(x)), make([]float64, c), make([]float64, c)
						back := ref.BNBackward[float64]
						if frozen {
							back = ref.BNBackwardFrozen[float64]
						}
						back(n, c, hw, x64, dz, m64, v64, eps, g64, dx64, dg64, db64)
						closeTo(t, fmt.Sprint("BN dx frozen=", frozen), plain(n, c, hw, dx), dx64, 1e-5)
						closeTo(t, "BN dgamma", dg, dg64, 1e-5)
						closeTo(t, "BN dbeta", db, db64, 1e-5)
					}

					// GN.
					g := s.groups
					gm, gr := make([]float32, n*g), make([]float32, n*g)
					GNForward(isa, n, c, hw, g, bx, eps, gamma, beta, relu, y, gm, gr)
					gm64, gr64 := make([]float64, n*g), make([]float64, n*g)
					ref.GNForward(n, c, hw, g, x64, eps, g64, b64, y64, gm64, gr64)
					dz = reluGrad(y64)
					if relu {
						for i, v := range y64 {
							y64[i] = max(0, v)
						}
					}
					closeTo(t, "GN y", plain(n, c, hw, y), y64, 1e-5)
					closeTo(t, "GN mean", gm, gm64, 1e-5)
					closeTo(t, "GN rstd", gr, gr64, 1e-5)
					dx, dg, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
					var mask []float32
					if relu {
						mask = y
					}
					GNBackward(isa, n, c, hw, g, bx, append([]float32(nil), bdy...), mask, gm, gr, gamma, dx, dg, db)
					dx64, dg64, db64 := make([]float64, len(x)), make([]float64, c), make([]float64, c)
					ref.GNBackward(n, c, hw, g, x64, dz, gm64, gr64, g64, dx64, dg64, db64)
					closeTo(t, "GN dx", plain(n, c, hw, dx), dx64, 1e-5)
					closeTo(t, "GN dgamma", dg, dg64, 1e-5)
					closeTo(t, "GN dbeta", db, db64, 1e-5)
				})
			}
		}
	}
}
