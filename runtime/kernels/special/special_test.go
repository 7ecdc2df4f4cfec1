package special

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/kernels/abi"
	"github.com/netc/netc/runtime/ref"
)

// conv is shape s with a batch of n images.
func conv(n int, s ref.Conv) ref.Conv {
	s.N = n
	return s
}

// evex matches the registers only EVEX (AVX-512) encodings reach.
var evex = regexp.MustCompile(`\b(Y(1[6-9]|2[0-9]|3[01])|X(1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b`)

func TestAVX2FunctionsUseNoEVEXRegisters(t *testing.T) {
	src, err := os.ReadFile("kernels_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range strings.Split(string(src), "\nTEXT ")[1:] {
		name := f[:strings.Index(f, "(")]
		if !strings.Contains(name, "AVX2") {
			continue
		}
		n++
		if r := evex.FindString(f); r != "" {
			t.Errorf("%s uses %s, which needs AVX-512", name, r)
		}
	}
	if n == 0 {
		t.Error("no AVX2 functions")
	}
}

// testISAs are the ISAs with specialized kernels this CPU and build run.
func testISAs(t *testing.T) []kernels.ISA {
	var isas []kernels.ISA
	for _, isa := range kernels.Available() {
		if isa != kernels.Generic {
			isas = append(isas, isa)
		}
	}
	if !slices.Contains(isas, kernels.AVX512) {
		t.Log("no AVX-512 (CPU or build): its kernels are not run here")
	}
	return isas
}

// Every shape has kernels for every ISA with assembly, found by Has and
// Lookup at any batch size, with a kernel for every tile height the row
// plan uses; other shapes and the generic ISA have none.
func TestTable(t *testing.T) {
	if len(shapes) != len(byShape) && len(byShape) > 0 {
		t.Fatalf("%d shapes, %d kernel sets", len(shapes), len(byShape))
	}
	for _, isa := range testISAs(t) {
		for i, s := range shapes {
			sp := byShape[i].For(isa)
			if sp == nil || sp.ISA != isa || sp.Conv != s {
				t.Fatalf("%s %v: %+v", isa, s, sp)
			}
			if !Has(conv(5, s)) || Lookup(isa, conv(5, s)) != sp {
				t.Errorf("%s %v: Has or Lookup misses it", isa, s)
			}
			// Every tile height of the row plan has a kernel.
			a, err := abi.Lookup(string(isa))
			if err != nil {
				t.Fatal(err)
			}
			tile := a.Tiles[a.TileIndex(s.K)]
			for _, flags := range []int{0, abi.ReLU} {
				for _, op := range abi.RowPlan(s.Q(), s.W, s.S, s.Stride, s.Pad, tile.MaxR, flags) {
					if op.NTx > 0 && sp.Tiles[op.R-1].One == nil {
						t.Errorf("%s %v: no kernel for %d-row tiles", isa, s, op.R)
					}
				}
			}
		}
	}
	stem := ref.Conv{C: 3, H: 224, W: 224, K: 64, R: 7, S: 7, Stride: 2, Pad: 3}
	if Has(stem) || Lookup(kernels.AVX2, stem) != nil {
		t.Error("kernels for a stem")
	}
	if Lookup(kernels.Generic, shapes[0]) != nil {
		t.Error("kernels for the generic ISA")
	}
}

func normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
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

func blocked(n, c, hw int, x []float32) []float32 {
	if c%kernels.Block != 0 {
		return slices.Clone(x)
	}
	y := make([]float32, len(x))
	kernels.ToBlocked(n, c, hw, x, y)
	return y
}

// counted returns a copy of s whose kernels count their calls (atomically:
// the worker pool runs them on several goroutines at once).
func counted(s *kernels.Special) (*kernels.Special, *[2]atomic.Int64) {
	var n [2]atomic.Int64 // calls of One, of Stacked
	c := *s
	c.Tiles = slices.Clone(s.Tiles)
	for i, k := range c.Tiles {
		if k.One != nil {
			one := k.One
			c.Tiles[i].One = func(p *uintptr) { n[0].Add(1); one(p) }
		}
		c.Tiles[i].Stacked = slices.Clone(k.Stacked)
		for j, st := range k.Stacked {
			c.Tiles[i].Stacked[j] = func(p *uintptr) { n[1].Add(1); st(p) }
		}
	}
	return &c, &n
}

// referenceFLOPs is the largest convolution that -short checks against
// the float64 reference (pure Go, slow under -race); larger ones are
// checked bitwise against ConvForward only, which runtime/kernels' tests
// check against the reference.
const referenceFLOPs = 1 << 24

// The specialized kernels compute the float64 reference within 1e-5
// (relative to the sum over absolute values, as runtime/kernels' tests),
// and bitwise what ConvForward computes, with and without an epilogue
// (bias, residual, ReLU, statistics); a stem runs the general kernels.
func TestConvForwardSpecialMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, isa := range testISAs(t) {
		for i, s := range shapes {
			n := 2
			if s.H*s.W*s.C*s.K > 1<<24 {
				n = 1
			}
			c := conv(n, s)
			t.Run(fmt.Sprint(isa, " ", c), func(t *testing.T) {
				pq := c.P() * c.Q()
				x, w := normals(rng, c.N*c.C*c.H*c.W), normals(rng, c.K*c.C*c.R*c.S)
				bias, res := normals(rng, c.K), normals(rng, c.N*c.K*pq)
				y64, scale := make([]float64, c.N*c.K*pq), make([]float64, c.N*c.K*pq)
				reference := !testing.Short() || c.FLOPs() <= referenceFLOPs
				if reference {
					ref.Conv2D(c, f64(x), f64(w), y64)
					ref.Conv2D(c, abs64(f64(x)), abs64(f64(w)), scale)
				}
				pw := make([]float32, kernels.WeightsLen(c))
				kernels.PackWeights(c, w, pw)
				bx, bres := blocked(c.N, c.C, c.H*c.W, x), blocked(c.N, c.K, pq, res)

				sp := byShape[i].For(isa)
				var calls *[2]atomic.Int64
				if sp != nil {
					sp, calls = counted(sp)
				}
				for _, epi := range []bool{false, true} {
					var e, eSpecial kernels.Epilogue
					if epi {
						e = kernels.Epilogue{Bias: bias, Residual: bres, ReLU: true, Sum: make([]float64, c.K), Sq: make([]float64, c.K)}
						eSpecial = e
						eSpecial.Sum, eSpecial.Sq = make([]float64, c.K), make([]float64, c.K)
					}
					y, ySpecial := make([]float32, len(y64)), make([]float32, len(y64))
					kernels.ConvForward(isa, c, bx, pw, y, e)
					kernels.ConvForwardSpecial(isa, c, bx, pw, ySpecial, eSpecial, sp)
					if !slices.Equal(y, ySpecial) {
						t.Errorf("epilogue %v: not bitwise ConvForward's", epi)
					}
					if !slices.Equal(e.Sum, eSpecial.Sum) || !slices.Equal(e.Sq, eSpecial.Sq) {
						t.Errorf("epilogue %v: statistics not bitwise ConvForward's", epi)
					}
					if !reference {
						continue
					}
					plain := make([]float32, len(ySpecial))
					kernels.FromBlocked(c.N, c.K, pq, ySpecial, plain)
					for j, want := range y64 {
						sc := scale[j]
						if epi {
							k := j / pq % c.K
							want = max(0, want+float64(bias[k])+float64(res[j]))
							sc += math.Abs(float64(bias[k])) + math.Abs(float64(res[j]))
						}
						if d := math.Abs(float64(plain[j]) - want); !(d <= 1e-5*sc+1e-30) {
							t.Fatalf("epilogue %v: y[%d] = %v, want %v (scale %v)", epi, j, plain[j], want, sc)
						}
					}
				}
				if sp != nil && calls[0].Load()+calls[1].Load() == 0 {
					t.Error("no specialized kernel ran")
				}
				if calls != nil {
					t.Logf("kernel calls: %d one tile, %d stacked", calls[0].Load(), calls[1].Load())
				}
			})
		}
	}
}

// Stacked kernels (several short tiles per pass) run on 7-wide rows.
func TestStackedKernelsRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, isa := range testISAs(t) {
		c := ref.Conv{N: 1, C: 512, H: 7, W: 7, K: 512, R: 3, S: 3, Stride: 1, Pad: 1}
		sp, calls := counted(Lookup(isa, c))
		x, w := normals(rng, c.N*c.C*c.H*c.W), normals(rng, kernels.WeightsLen(c))
		y := make([]float32, c.N*c.K*c.P()*c.Q())
		kernels.ConvForwardSpecial(isa, c, x, w, y, kernels.Epilogue{}, sp)
		if calls[1].Load() == 0 {
			t.Errorf("%s: no stacked kernel ran (%d one-tile calls)", isa, calls[0].Load())
		}
	}
}

// Results do not depend on the thread count.
func TestSameOnAnyThreadCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := ref.Conv{N: 3, C: 512, H: 7, W: 7, K: 512, R: 3, S: 3, Stride: 1, Pad: 1}
	x, w := normals(rng, c.N*c.C*c.H*c.W), normals(rng, kernels.WeightsLen(c))
	for _, isa := range testISAs(t) {
		var ys [2][]float32
		for j, threads := range []int{1, 64} {
			old := kernels.SetThreads(threads)
			ys[j] = make([]float32, c.N*c.K*c.P()*c.Q())
			kernels.ConvForwardSpecial(isa, c, x, w, ys[j], kernels.Epilogue{ReLU: true}, Lookup(isa, c))
			kernels.SetThreads(old)
		}
		if !slices.Equal(ys[0], ys[1]) {
			t.Errorf("%s: results differ between 1 and %d threads", isa, kernels.Threads())
		}
	}
}

// Kernels for another shape or ISA, or whose immediates disagree with
// the driver's argument block, are refused, not run.
func TestMismatchPanics(t *testing.T) {
	isas := testISAs(t)
	if len(isas) == 0 {
		t.Skip("no assembly kernels")
	}
	isa := isas[0]
	c := conv(1, shapes[1])
	other := conv(1, shapes[0])
	x, w, y := make([]float32, c.N*c.C*c.H*c.W), make([]float32, kernels.WeightsLen(c)), make([]float32, c.N*c.K*c.P()*c.Q())
	otherISA := kernels.AVX2
	if isa == kernels.AVX2 {
		otherISA = kernels.AVX512
	}
	bad := *Lookup(isa, c)
	bad.Fixed = slices.Clone(bad.Fixed)
	bad.Fixed[0].Value++
	for name, sp := range map[string]*kernels.Special{
		"shape":     Lookup(isa, other),
		"ISA":       Lookup(otherISA, c),
		"immediate": &bad,
	} {
		if sp == nil {
			continue
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s mismatch: no panic", name)
				}
			}()
			kernels.ConvForwardSpecial(isa, c, x, w, y, kernels.Epilogue{}, sp)
		}()
	}
	// nil is ConvForward.
	kernels.ConvForwardSpecial(isa, c, x, w, y, kernels.Epilogue{}, nil)
}

// BenchmarkSpecial compares the specialized kernels with the general
// ones on ResNet-20 and ResNet-50 shapes (batch 8, one thread): each
// iteration runs both, alternating which goes first, and reports each
// one's GFLOP/s and their ratio.
func BenchmarkSpecial(b *testing.B) {
	defer kernels.SetThreads(kernels.SetThreads(1))
	rng := rand.New(rand.NewPCG(7, 8))
	for _, isa := range kernels.Available() {
		if isa == kernels.Generic {
			continue
		}
		for i, s := range shapes {
			n := max(1, (1<<22)/(s.H*s.W*s.C)) // about 16 MiB of input
			n = min(n, 8)
			c := conv(n, s)
			x, w := normals(rng, c.N*c.C*c.H*c.W), normals(rng, kernels.WeightsLen(c))
			y := make([]float32, c.N*c.K*c.P()*c.Q())
			sp := byShape[i].For(isa)
			b.Run(fmt.Sprintf("%s/%v", isa, c), func(b *testing.B) {
				var general, special time.Duration
				runs := 0
				for b.Loop() {
					for k := range 2 {
						t0 := time.Now()
						if (runs+k)%2 == 0 {
							kernels.ConvForward(isa, c, x, w, y, kernels.Epilogue{})
							general += time.Since(t0)
						} else {
							kernels.ConvForwardSpecial(isa, c, x, w, y, kernels.Epilogue{}, sp)
							special += time.Since(t0)
						}
					}
					runs++
				}
				flops := float64(c.FLOPs()) * float64(runs)
				b.ReportMetric(flops/general.Seconds()/1e9, "GFLOP/s-general")
				b.ReportMetric(flops/special.Seconds()/1e9, "GFLOP/s-special")
				b.ReportMetric(general.Seconds()/special.Seconds(), "speedup")
			})
		}
	}
}
