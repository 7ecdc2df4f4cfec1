package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netc/netc/runtime/ref"
)

// convShapes cover the tile tails (widths 1..15 and 56 against tiles of
// 6, 14 and 16 pixels), channel counts 16 to 2048, stride 2, padding,
// batch 1 and the stems.
var convShapes = []ref.Conv{
	{N: 2, C: 16, H: 8, W: 8, K: 16, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 1, C: 32, H: 7, W: 13, K: 48, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 3, C: 16, H: 5, W: 1, K: 32, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 2, C: 16, H: 9, W: 11, K: 32, R: 3, S: 3, Stride: 2, Pad: 1},
	{N: 1, C: 32, H: 8, W: 8, K: 64, R: 3, S: 3, Stride: 2, Pad: 1},
	{N: 2, C: 64, H: 7, W: 15, K: 16, R: 1, S: 1, Stride: 1, Pad: 0},
	{N: 1, C: 48, H: 10, W: 10, K: 96, R: 1, S: 1, Stride: 2, Pad: 0},
	{N: 1, C: 2048, H: 2, W: 3, K: 32, R: 1, S: 1, Stride: 1, Pad: 0},
	{N: 1, C: 32, H: 3, W: 2, K: 2048, R: 1, S: 1, Stride: 1, Pad: 0},
	{N: 1, C: 16, H: 56, W: 56, K: 32, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 2, C: 1, H: 28, W: 28, K: 16, R: 3, S: 3, Stride: 1, Pad: 1}, // MNIST stem
	{N: 2, C: 3, H: 32, W: 30, K: 32, R: 3, S: 3, Stride: 1, Pad: 1}, // CIFAR stem
	{N: 1, C: 3, H: 23, W: 21, K: 64, R: 7, S: 7, Stride: 2, Pad: 3}, // ImageNet stem
	{N: 1, C: 16, H: 4, W: 4, K: 16, R: 5, S: 5, Stride: 1, Pad: 2},  // more taps than pixels
	{N: 1, C: 2, H: 6, W: 9, K: 16, R: 5, S: 5, Stride: 2, Pad: 1},   // plain, stride 2
}

// blocked converts plain values of an n×c×hw tensor to the layout the
// kernels use for it (plain stays plain when c is not a block multiple).
func blocked(n, c, hw int, x []float32) []float32 {
	if c%Block != 0 {
		return slices.Clone(x)
	}
	y := make([]float32, len(x))
	ToBlocked(n, c, hw, x, y)
	return y
}

func plain(n, c, hw int, x []float32) []float32 {
	if c%Block != 0 {
		return slices.Clone(x)
	}
	y := make([]float32, len(x))
	FromBlocked(n, c, hw, x, y)
	return y
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func abs64(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Abs(v)
	}
	return y
}

// near fails unless every got[i] is within tol of want[i], relative to
// scale[i]: the same sum taken over absolute values, the size of the
// rounding a float32 sum can make.
func near(t *testing.T, what string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale[i]+1e-30) {
			t.Fatalf("%s [%d]: %v, want %v (scale %v)", what, i, got[i], want[i], scale[i])
		}
	}
}

// testISAs lists the ISAs to test, logging those this CPU lacks.
func testISAs(t *testing.T) []ISA {
	have := Available()
	if !slices.Contains(have, AVX512) {
		t.Log("this CPU has no AVX-512: its kernels are skipped here")
	}
	return have
}

func TestConvForwardMatchesRef(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(5, 6)))
	for _, isa := range testISAs(t) {
		for _, c := range convShapes {
			t.Run(fmt.Sprint(isa, " ", c), func(t *testing.T) {
				x, w := rnd(c.N*c.C*c.H*c.W), rnd(c.K*c.C*c.R*c.S)
				y64 := make([]float64, c.N*c.K*c.P()*c.Q())
				scale := make([]float64, len(y64))
				ref.Conv2D(c, f64(x), f64(w), y64)
				ref.Conv2D(c, abs64(f64(x)), abs64(f64(w)), scale)
				pw := make([]float32, WeightsLen(c))
				PackWeights(c, w, pw)
				y := make([]float32, len(y64))
				ConvForward(isa, c, blocked(c.N, c.C, c.H*c.W, x), pw, y, Epilogue{})
				near(t, "y", plain(c.N, c.K, c.P()*c.Q(), y), y64, scale, 1e-5)
			})
		}
	}
}

func TestConvBackwardMatchesRef(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(7, 8)))
	for _, isa := range testISAs(t) {
		for _, c := range convShapes {
			t.Run(fmt.Sprint(isa, " ", c), func(t *testing.T) {
				x, w, dy := rnd(c.N*c.C*c.H*c.W), rnd(c.K*c.C*c.R*c.S), rnd(c.N*c.K*c.P()*c.Q())
				pw := make([]float32, WeightsLen(c))
				PackWeights(c, w, pw)
				bdy := blocked(c.N, c.K, c.P()*c.Q(), dy)

				dx64, dxScale := make([]float64, len(x)), make([]float64, len(x))
				ref.Conv2DBackwardData(c, f64(dy), f64(w), dx64)
				ref.Conv2DBackwardData(c, abs64(f64(dy)), abs64(f64(w)), dxScale)
				dx := make([]float32, len(x))
				for i := range dx {
					dx[i] = float32(math.NaN()) // every element must be written
				}
				ConvBackwardData(isa, c, bdy, pw, dx)
				near(t, "dx", plain(c.N, c.C, c.H*c.W, dx), dx64, dxScale, 1e-5)

				dw64, dwScale := make([]float64, len(w)), make([]float64, len(w))
				ref.Conv2DBackwardWeight(c, f64(x), f64(dy), dw64)
				ref.Conv2DBackwardWeight(c, abs64(f64(x)), abs64(f64(dy)), dwScale)
				dw := make([]float32, len(w))
				ConvBackwardWeight(isa, c, blocked(c.N, c.C, c.H*c.W, x), bdy, dw)
				near(t, "dw", dw, dw64, dwScale, 1e-5)
			})
		}
	}
}

func TestConvEpilogue(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(11, 12)))
	for _, isa := range testISAs(t) {
		for _, c := range []ref.Conv{convShapes[1], convShapes[3], convShapes[9], convShapes[11], convShapes[13]} {
			t.Run(fmt.Sprint(isa, " ", c), func(t *testing.T) {
				x, w := rnd(c.N*c.C*c.H*c.W), rnd(c.K*c.C*c.R*c.S)
				bias, res := rnd(c.K), rnd(c.N*c.K*c.P()*c.Q())
				y64, scale := make([]float64, len(res)), make([]float64, len(res))
				ref.Conv2D(c, f64(x), f64(w), y64)
				ref.Conv2D(c, abs64(f64(x)), abs64(f64(w)), scale)
				pq := c.P() * c.Q()
				sum, sq := make([]float64, c.K), make([]float64, c.K)
				sumScale := make([]float64, c.K)
				for i, v := range y64 {
					k := i / pq % c.K
					v = max(0, v+float64(bias[k])+float64(res[i]))
					y64[i] = v
					scale[i] += math.Abs(float64(bias[k])) + math.Abs(float64(res[i]))
					sum[k] += v
					sq[k] += v * v
					sumScale[k] += scale[i] * (1 + 2*math.Abs(v))
				}
				pw := make([]float32, WeightsLen(c))
				PackWeights(c, w, pw)
				y := make([]float32, len(res))
				gotSum, gotSq := make([]float64, c.K), make([]float64, c.K)
				ConvForward(isa, c, blocked(c.N, c.C, c.H*c.W, x), pw, y,
					Epilogue{Bias: bias, Residual: blocked(c.N, c.K, pq, res), ReLU: true, Sum: gotSum, Sq: gotSq})
				near(t, "y", plain(c.N, c.K, pq, y), y64, scale, 1e-5)
				near(t, "sum", f32(gotSum), sum, sumScale, 1e-5)
				near(t, "sum of squares", f32(gotSq), sq, sumScale, 1e-5)
			})
		}
	}
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// The convolutions split work statically and keep each output element
// to one thread: results are bitwise the same on 1 and on all threads.
func TestConvSameOnAnyThreadCount(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(13, 14)))
	c := ref.Conv{N: 3, C: 32, H: 9, W: 10, K: 32, R: 3, S: 3, Stride: 2, Pad: 1}
	x, w, dy := rnd(c.N*c.C*c.H*c.W), rnd(WeightsLen(c)), rnd(c.N*c.K*c.P()*c.Q())
	run := func(isa ISA, threads int) [][]float32 {
		defer SetThreads(SetThreads(threads))
		y, dx, dw := make([]float32, len(dy)), make([]float32, len(x)), make([]float32, len(w))
		ConvForward(isa, c, x, w, y, Epilogue{})
		ConvBackwardData(isa, c, dy, w, dx)
		ConvBackwardWeight(isa, c, x, dy, dw)
		return [][]float32{y, dx, dw}
	}
	for _, isa := range testISAs(t) {
		one, all := run(isa, 1), run(isa, 64)
		for i, name := range []string{"y", "dx", "dw"} {
			if !slices.Equal(one[i], all[i]) {
				t.Errorf("%s: %s differs between 1 and %d threads", isa, name, Threads())
			}
		}
	}
}
