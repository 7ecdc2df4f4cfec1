package ref

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// directConv is the convolution as its definition: seven nested loops.
func directConv(c Conv, x, w, y []float64) {
	P, Q := c.P(), c.Q()
	for n := range c.N {
		for k := range c.K {
			for p := range P {
				for q := range Q {
					var s float64
					for ch := range c.C {
						for r := range c.R {
							for t := range c.S {
								h, v := p*c.Stride-c.Pad+r, q*c.Stride-c.Pad+t
								if h < 0 || h >= c.H || v < 0 || v >= c.W {
									continue
								}
								s += x[((n*c.C+ch)*c.H+h)*c.W+v] * w[((k*c.C+ch)*c.R+r)*c.S+t]
							}
						}
					}
					y[((n*c.K+k)*P+p)*Q+q] = s
				}
			}
		}
	}
}

// directConvBackward computes both gradients of directConv by the same
// loops, scattering instead of gathering.
func directConvBackward(c Conv, x, w, dy, dx, dw []float64) {
	P, Q := c.P(), c.Q()
	clear(dx)
	clear(dw)
	for n := range c.N {
		for k := range c.K {
			for p := range P {
				for q := range Q {
					g := dy[((n*c.K+k)*P+p)*Q+q]
					for ch := range c.C {
						for r := range c.R {
							for t := range c.S {
								h, v := p*c.Stride-c.Pad+r, q*c.Stride-c.Pad+t
								if h < 0 || h >= c.H || v < 0 || v >= c.W {
									continue
								}
								xi := ((n*c.C+ch)*c.H+h)*c.W + v
								wi := ((k*c.C+ch)*c.R+r)*c.S + t
								dx[xi] += g * w[wi]
								dw[wi] += g * x[xi]
							}
						}
					}
				}
			}
		}
	}
}

// convShapes are the shapes every convolution test runs on.
var convShapes = []Conv{
	{N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, S: 1, Stride: 1, Pad: 0},
	{N: 2, C: 3, H: 5, W: 7, K: 4, R: 1, S: 1, Stride: 1, Pad: 0},  // 1x1, non-square
	{N: 3, C: 5, H: 6, W: 6, K: 3, R: 1, S: 1, Stride: 2, Pad: 0},  // 1x1 s2 shortcut
	{N: 2, C: 3, H: 5, W: 5, K: 5, R: 3, S: 3, Stride: 1, Pad: 1},  // 3x3 s1 p1
	{N: 1, C: 4, H: 7, W: 9, K: 6, R: 3, S: 3, Stride: 2, Pad: 1},  // 3x3 s2, batch 1, odd
	{N: 2, C: 3, H: 11, W: 9, K: 5, R: 7, S: 7, Stride: 2, Pad: 3}, // 7x7 s2 p3 stem
	{N: 3, C: 2, H: 6, W: 4, K: 3, R: 3, S: 2, Stride: 1, Pad: 0},  // non-square kernel
	{N: 2, C: 3, H: 4, W: 4, K: 2, R: 3, S: 3, Stride: 3, Pad: 2},  // pad > needed
	{N: 17, C: 2, H: 4, W: 3, K: 3, R: 3, S: 3, Stride: 1, Pad: 1}, // more images than chunks
	{N: 2, C: 9, H: 13, W: 11, K: 67, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 1, C: 70, H: 9, W: 8, K: 9, R: 3, S: 3, Stride: 1, Pad: 1}, // depth > kc
}

func convData(c Conv, seed uint64) (x, w, r []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	return randSlice(rng, c.N*c.C*c.H*c.W), randSlice(rng, c.K*c.C*c.R*c.S), randSlice(rng, c.N*c.K*c.P()*c.Q())
}

func TestConvAgainstDirect(t *testing.T) {
	for _, c := range convShapes {
		t.Run(c.String(), func(t *testing.T) {
			x, w, dy := convData(c, 1)
			y, want := make([]float64, len(dy)), make([]float64, len(dy))
			Conv2D(c, x, w, y)
			directConv(c, x, w, want)
			if d := maxRelDiff(y, want); d > 1e-12 {
				t.Errorf("Conv2D: max relative difference %g", d)
			}
			dx, dw := make([]float64, len(x)), make([]float64, len(w))
			wantDx, wantDw := make([]float64, len(x)), make([]float64, len(w))
			Conv2DBackwardData(c, dy, w, dx)
			Conv2DBackwardWeight(c, x, dy, dw)
			directConvBackward(c, x, w, dy, wantDx, wantDw)
			if d := maxRelDiff(dx, wantDx); d > 1e-12 {
				t.Errorf("Conv2DBackwardData: max relative difference %g", d)
			}
			if d := maxRelDiff(dw, wantDw); d > 1e-12 {
				t.Errorf("Conv2DBackwardWeight: max relative difference %g", d)
			}
		})
	}
}

func TestConvGradient(t *testing.T) {
	for _, c := range convShapes {
		if c.N*c.C*c.H*c.W > 1000 || c.K*c.C*c.R*c.S > 1000 {
			continue // finite differences would be slow; TestConvAgainstDirect covers it
		}
		t.Run(c.String(), func(t *testing.T) {
			x, w, r := convData(c, 2)
			y := make([]float64, len(r))
			loss := func() float64 {
				Conv2D(c, x, w, y)
				return dot(y, r)
			}
			dx, dw := make([]float64, len(x)), make([]float64, len(w))
			Conv2DBackwardData(c, r, w, dx)
			Conv2DBackwardWeight(c, x, r, dw)
			checkGrad(t, "dx", x, dx, loss)
			checkGrad(t, "dw", w, dw, loss)
		})
	}
}

func TestConvFloat32(t *testing.T) {
	for _, c := range convShapes {
		t.Run(c.String(), func(t *testing.T) {
			x, w, dy := convData(c, 3)
			x32, w32, dy32 := toFloat32(x), toFloat32(w), toFloat32(dy)
			y, y32 := make([]float64, len(dy)), make([]float32, len(dy))
			dx, dx32 := make([]float64, len(x)), make([]float32, len(x))
			dw, dw32 := make([]float64, len(w)), make([]float32, len(w))
			Conv2D(c, x, w, y)
			Conv2D(c, x32, w32, y32)
			Conv2DBackwardData(c, dy, w, dx)
			Conv2DBackwardData(c, dy32, w32, dx32)
			Conv2DBackwardWeight(c, x, dy, dw)
			Conv2DBackwardWeight(c, x32, dy32, dw32)
			for _, tc := range []struct {
				name string
				f64  []float64
				f32  []float32
			}{{"y", y, y32}, {"dx", dx, dx32}, {"dw", dw, dw32}} {
				if d := maxRelDiff(tc.f64, toFloat64(tc.f32)); d > 1e-5 {
					t.Errorf("%s: float32 and float64 differ by %g", tc.name, d)
				}
			}
		})
	}
}

// TestConvDeterministic checks that results are bitwise identical for
// every GOMAXPROCS.
func TestConvDeterministic(t *testing.T) {
	c := Conv{N: 37, C: 3, H: 6, W: 5, K: 4, R: 3, S: 3, Stride: 1, Pad: 1}
	x, w, dy := convData(c, 4)
	x32, w32, dy32 := toFloat32(x), toFloat32(w), toFloat32(dy)
	run := func(procs int) (y, dx, dw []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		y, dx, dw = make([]float32, len(dy)), make([]float32, len(x)), make([]float32, len(w))
		Conv2D(c, x32, w32, y)
		Conv2DBackwardData(c, dy32, w32, dx)
		Conv2DBackwardWeight(c, x32, dy32, dw)
		return y, dx, dw
	}
	y1, dx1, dw1 := run(1)
	for _, procs := range []int{2, 3, 8, 64} {
		y, dx, dw := run(procs)
		if !slices.Equal(y, y1) || !slices.Equal(dx, dx1) || !slices.Equal(dw, dw1) {
			t.Errorf("GOMAXPROCS=%d: results differ from GOMAXPROCS=1", procs)
		}
	}
}

func TestConvPanics(t *testing.T) {
	c := Conv{N: 2, C: 3, H: 5, W: 5, K: 4, R: 3, S: 3, Stride: 1, Pad: 1}
	x, w, y := make([]float32, 150), make([]float32, 108), make([]float32, 200)
	tests := []struct {
		name string
		f    func()
	}{
		{"short x", func() { Conv2D(c, x[1:], w, y) }},
		{"short w", func() { Conv2DBackwardData(c, y, w[1:], x) }},
		{"short dy", func() { Conv2DBackwardWeight(c, x, y[1:], w) }},
		{"zero stride", func() { c := c; c.Stride = 0; Conv2D(c, x, w, y) }},
		{"kernel too big", func() { c := c; c.Pad = 0; c.R = 6; Conv2D(c, x, w, y) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}

var benchConvs = []Conv{
	{N: 64, C: 16, H: 28, W: 28, K: 16, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 64, C: 32, H: 14, W: 14, K: 64, R: 3, S: 3, Stride: 2, Pad: 1},
	{N: 32, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 32, C: 256, H: 56, W: 56, K: 64, R: 1, S: 1, Stride: 1, Pad: 0},
}

func benchConv(b *testing.B, op func(c Conv, x, w, y []float32)) {
	for _, c := range benchConvs {
		b.Run(fmt.Sprintf("N%d_C%d_K%d_%dx%d_%dx%d_s%d", c.N, c.C, c.K, c.H, c.W, c.R, c.S, c.Stride), func(b *testing.B) {
			x, w, y := convData(c, 5)
			x32, w32, y32 := toFloat32(x), toFloat32(w), toFloat32(y)
			for b.Loop() {
				op(c, x32, w32, y32)
			}
			reportGFLOPs(b, c.FLOPs())
		})
	}
}

func BenchmarkConv2D(b *testing.B) {
	benchConv(b, Conv2D[float32])
}

func BenchmarkConv2DBackwardData(b *testing.B) {
	benchConv(b, func(c Conv, x, w, y []float32) { Conv2DBackwardData(c, y, w, x) })
}

func BenchmarkConv2DBackwardWeight(b *testing.B) {
	benchConv(b, func(c Conv, x, w, y []float32) { Conv2DBackwardWeight(c, x, y, w) })
}
