package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// normShapes are n, c, hw: batch 1, one block, 2048 channels, pixel
// counts below, at and above the unrolls and the 256-pixel chunk.
var normShapes = [][3]int{
	{1, 16, 1}, {1, 16, 7}, {2, 64, 49}, {1, 64, 13}, {3, 32, 13}, {1, 2048, 2}, {1, 2048, 1},
	{2, 32, 3136}, {1, 16, 256}, {2, 48, 300}, {1, 16, 513},
}

// normISAs lists the ISAs to test, logging that AVX-512 is skipped on a
// CPU without it.
func normISAs(t testing.TB) []ISA {
	have := Available()
	if !slices.Contains(have, AVX512) {
		t.Log("this CPU has no AVX-512: its normalization kernels are skipped here")
	}
	return have
}

// normIdx is the index of image i, channel k, pixel p in NCHW16c.
func normIdx(c, hw, i, k, p int) int {
	return ((i*(c/Block)+k/Block)*hw+p)*Block + k%Block
}

// normCoef is the index of channel k of image i in a per-channel vector.
func normCoef(c, i, k int, perImage bool) int {
	if perImage {
		return i*c + k
	}
	return k
}

// normGuard returns a slice of n values from rnd followed (beyond its
// length, within its capacity) by a guard region that normGuarded checks.
func normGuard(rnd func(int) []float32, n int) []float32 {
	v := rnd(n + 2*Block)
	for i := n; i < len(v); i++ {
		v[i] = 12345
	}
	return v[:n]
}

func normGuarded(t *testing.T, what string, v []float32) {
	t.Helper()
	for i, g := range v[len(v):cap(v)] {
		if g != 12345 {
			t.Fatalf("%s: wrote %v past the end (+%d)", what, g, i)
		}
	}
}

// normNear fails unless |got[i] − want[i]| ≤ tol·scale[i] for every i;
// scale is the same computation on absolute values.
func normNear[T float32 | float64](t *testing.T, what string, got []T, want, scale []float64) {
	t.Helper()
	const tol = 1e-5
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale[i]+1e-30) {
			t.Fatalf("%s [%d]: %v, want %v (scale %v)", what, i, got[i], want[i], scale[i])
		}
	}
}

func TestAffine(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(11, 12)))
	for _, isa := range normISAs(t) {
		for _, s := range normShapes {
			n, c, hw := s[0], s[1], s[2]
			for _, perImage := range []bool{false, true} {
				for _, relu := range []bool{false, true} {
					for _, alias := range []bool{false, true} {
						what := fmt.Sprintf("%s n=%d c=%d hw=%d perImage=%v relu=%v alias=%v", isa, n, c, hw, perImage, relu, alias)
						nc := coefs(n, c, perImage)
						x, scale, shift := normGuard(rnd, n*c*hw), rnd(nc), rnd(nc)
						want, sc := make([]float64, len(x)), make([]float64, len(x))
						for i := range n {
							for k := range c {
								a, b := float64(scale[normCoef(c, i, k, perImage)]), float64(shift[normCoef(c, i, k, perImage)])
								for p := range hw {
									j := normIdx(c, hw, i, k, p)
									v := float64(x[j])*a + b
									if relu {
										v = max(0, v)
									}
									want[j], sc[j] = v, math.Abs(float64(x[j])*a)+math.Abs(b)
								}
							}
						}
						y := x
						if !alias {
							y = normGuard(rnd, len(x))
						}
						Affine(isa, n, c, hw, x, scale, shift, perImage, relu, y)
						normNear(t, what, y, want, sc)
						normGuarded(t, what, y)
					}
				}
			}
		}
	}
}

func TestChannelSums(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(13, 14)))
	for _, isa := range normISAs(t) {
		for _, s := range normShapes {
			n, c, hw := s[0], s[1], s[2]
			what := fmt.Sprintf("%s n=%d c=%d hw=%d", isa, n, c, hw)
			x := rnd(n * c * hw)
			for i := range x {
				x[i] += 3 // a mean, so that Σx² is not Σ|x|·1
			}
			ws, wq, abs := make([]float64, n*c), make([]float64, n*c), make([]float64, n*c)
			for i := range n {
				for k := range c {
					for p := range hw {
						v := float64(x[normIdx(c, hw, i, k, p)])
						ws[i*c+k] += v
						wq[i*c+k] += v * v
						abs[i*c+k] += math.Abs(v)
					}
				}
			}
			sum, sq := make([]float64, n*c), make([]float64, n*c)
			for i := range sum { // overwritten, not added to
				sum[i], sq[i] = 7, 7
			}
			ChannelSums(isa, n, c, hw, x, sum, sq)
			normNear(t, what+" sum", sum, ws, abs)
			normNear(t, what+" sumsq", sq, wq, wq)
		}
	}
}

func TestBackwardReduce(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(15, 16)))
	for _, isa := range normISAs(t) {
		for _, s := range normShapes {
			n, c, hw := s[0], s[1], s[2]
			for _, masked := range []bool{false, true} {
				for _, alias := range []bool{false, true} {
					what := fmt.Sprintf("%s n=%d c=%d hw=%d mask=%v alias=%v", isa, n, c, hw, masked, alias)
					dy, x := normGuard(rnd, n*c*hw), rnd(n*c*hw)
					var mask []float32
					if masked {
						mask = rnd(len(x))
						for i := range mask {
							mask[i] = max(0, mask[i]) // a ReLU's output
						}
					}
					wz, ws, wx := make([]float64, len(x)), make([]float64, n*c), make([]float64, n*c)
					as, ax := make([]float64, n*c), make([]float64, n*c)
					for i := range n {
						for k := range c {
							for p := range hw {
								j := normIdx(c, hw, i, k, p)
								g := float64(dy[j])
								if mask != nil && mask[j] <= 0 {
									g = 0
								}
								wz[j] = g
								ws[i*c+k] += g
								wx[i*c+k] += g * float64(x[j])
								as[i*c+k] += math.Abs(g)
								ax[i*c+k] += math.Abs(g * float64(x[j]))
							}
						}
					}
					dz := dy
					if !alias {
						dz = normGuard(rnd, len(x))
					}
					sum, sumX := make([]float64, n*c), make([]float64, n*c)
					BackwardReduce(isa, n, c, hw, dy, x, mask, dz, sum, sumX)
					for j := range wz {
						if float64(dz[j]) != wz[j] {
							t.Fatalf("%s: dz[%d] = %v, want %v", what, j, dz[j], wz[j])
						}
					}
					normGuarded(t, what, dz)
					normNear(t, what+" Σdz", sum, ws, as)
					normNear(t, what+" Σdz·x", sumX, wx, ax)
				}
			}
		}
	}
}

func TestBackwardApply(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(17, 18)))
	for _, isa := range normISAs(t) {
		for _, s := range normShapes {
			n, c, hw := s[0], s[1], s[2]
			for _, perImage := range []bool{false, true} {
				// Which of b and k are given: both, neither (frozen), one.
				for _, bk := range [][2]bool{{true, true}, {false, false}, {false, true}, {true, false}} {
					for _, alias := range []bool{false, true} {
						what := fmt.Sprintf("%s n=%d c=%d hw=%d perImage=%v b,k=%v alias=%v", isa, n, c, hw, perImage, bk, alias)
						nc := coefs(n, c, perImage)
						dz, x, a := normGuard(rnd, n*c*hw), rnd(n*c*hw), rnd(nc)
						var b, k []float32
						if bk[0] {
							b = rnd(nc)
						}
						if bk[1] {
							k = rnd(nc)
						}
						want, sc := make([]float64, len(x)), make([]float64, len(x))
						for i := range n {
							for ch := range c {
								o := normCoef(c, i, ch, perImage)
								var bv, kv float64
								if b != nil {
									bv = float64(b[o])
								}
								if k != nil {
									kv = float64(k[o])
								}
								for p := range hw {
									j := normIdx(c, hw, i, ch, p)
									t1, t2 := float64(a[o])*float64(dz[j]), bv*float64(x[j])
									want[j], sc[j] = t1+t2+kv, math.Abs(t1)+math.Abs(t2)+math.Abs(kv)
								}
							}
						}
						dx := dz
						if !alias {
							dx = normGuard(rnd, len(x))
						}
						BackwardApply(isa, n, c, hw, dz, x, a, b, k, perImage, dx)
						normNear(t, what, dx, want, sc)
						normGuarded(t, what, dx)
					}
				}
			}
		}
	}
}

// normFlatLens cover empty, tails, the unroll and several parallel parts.
var normFlatLens = []int{0, 1, 7, 15, 16, 17, 63, 64, 65, 100, flatUnit - 1, flatUnit + 37, 3*flatUnit + 5, 50000}

func TestReLUBackward(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(19, 20)))
	for _, isa := range normISAs(t) {
		for _, l := range normFlatLens {
			for _, alias := range []bool{false, true} {
				what := fmt.Sprintf("%s len=%d alias=%v", isa, l, alias)
				y, dy := rnd(l), normGuard(rnd, l)
				for i := range y {
					y[i] = max(0, y[i])
				}
				want := make([]float32, l)
				for i := range y {
					if y[i] > 0 {
						want[i] = dy[i]
					}
				}
				dx := dy
				if !alias {
					dx = normGuard(rnd, l)
				}
				ReLUBackward(isa, y, dy, dx)
				if !slices.Equal(dx, want) {
					t.Fatalf("%s: wrong gradient", what)
				}
				normGuarded(t, what, dx)
			}
		}
	}
}

func TestAdd(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(21, 22)))
	for _, isa := range normISAs(t) {
		for _, l := range normFlatLens {
			for _, alias := range []string{"none", "a", "b"} {
				what := fmt.Sprintf("%s len=%d alias=%s", isa, l, alias)
				a, b := normGuard(rnd, l), normGuard(rnd, l)
				want := make([]float32, l)
				for i := range a {
					want[i] = a[i] + b[i] // exact in float32, as the kernel's
				}
				y := normGuard(rnd, l)
				switch alias {
				case "a":
					y = a
				case "b":
					y = b
				}
				Add(isa, a, b, y)
				if !slices.Equal(y, want) {
					t.Fatalf("%s: wrong sum", what)
				}
				normGuarded(t, what, y)
			}
		}
	}
}

// The sums are the same whatever the thread count.
func TestNormSumsIndependentOfThreads(t *testing.T) {
	rnd := normals(rand.New(rand.NewPCG(23, 24)))
	n, c, hw := 3, 64, 300
	x, dy, mask := rnd(n*c*hw), rnd(n*c*hw), rnd(n*c*hw)
	for _, isa := range normISAs(t) {
		var got [2][4][]float64
		for r, threads := range []int{1, Threads()} {
			old := SetThreads(threads)
			for i := range got[r] {
				got[r][i] = make([]float64, n*c)
			}
			ChannelSums(isa, n, c, hw, x, got[r][0], got[r][1])
			BackwardReduce(isa, n, c, hw, dy, x, mask, make([]float32, len(x)), got[r][2], got[r][3])
			SetThreads(old)
		}
		for i := range got[0] {
			if !slices.Equal(got[0][i], got[1][i]) {
				t.Errorf("%s: sums %d differ between 1 and %d threads", isa, i, Threads())
			}
		}
	}
}

// The benchmarks run a batch of 32 images of 64 channels and 32×32
// pixels; GB/s counts every float read and written once.
const benchN, benchC, benchHW = 32, 64, 1024

func BenchmarkAffine(b *testing.B) {
	rnd := normals(rand.New(rand.NewPCG(1, 1)))
	size := benchN * benchC * benchHW
	x, y, scale, shift := rnd(size), make([]float32, size), rnd(benchC), rnd(benchC)
	for _, isa := range normISAs(b) {
		b.Run(string(isa), func(b *testing.B) {
			b.SetBytes(int64(8 * size))
			for b.Loop() {
				Affine(isa, benchN, benchC, benchHW, x, scale, shift, false, true, y)
			}
		})
	}
}

func BenchmarkChannelSums(b *testing.B) {
	rnd := normals(rand.New(rand.NewPCG(1, 2)))
	size := benchN * benchC * benchHW
	x, sum, sq := rnd(size), make([]float64, benchN*benchC), make([]float64, benchN*benchC)
	for _, isa := range normISAs(b) {
		b.Run(string(isa), func(b *testing.B) {
			b.SetBytes(int64(4 * size))
			for b.Loop() {
				ChannelSums(isa, benchN, benchC, benchHW, x, sum, sq)
			}
		})
	}
}

func BenchmarkBackwardReduce(b *testing.B) {
	rnd := normals(rand.New(rand.NewPCG(1, 3)))
	size := benchN * benchC * benchHW
	dy, x, mask, dz := rnd(size), rnd(size), rnd(size), make([]float32, size)
	sum, sumX := make([]float64, benchN*benchC), make([]float64, benchN*benchC)
	for _, isa := range normISAs(b) {
		b.Run(string(isa), func(b *testing.B) {
			b.SetBytes(int64(16 * size)) // dy, x, mask read, dz written
			for b.Loop() {
				BackwardReduce(isa, benchN, benchC, benchHW, dy, x, mask, dz, sum, sumX)
			}
		})
	}
}

func BenchmarkBackwardApply(b *testing.B) {
	rnd := normals(rand.New(rand.NewPCG(1, 4)))
	size := benchN * benchC * benchHW
	dz, x, dx := rnd(size), rnd(size), make([]float32, size)
	a, bb, k := rnd(benchC), rnd(benchC), rnd(benchC)
	for _, isa := range normISAs(b) {
		b.Run(string(isa), func(b *testing.B) {
			b.SetBytes(int64(12 * size))
			for b.Loop() {
				BackwardApply(isa, benchN, benchC, benchHW, dz, x, a, bb, k, false, dx)
			}
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	rnd := normals(rand.New(rand.NewPCG(1, 5)))
	size := benchN * benchC * benchHW
	x, y, z := rnd(size), rnd(size), make([]float32, size)
	for _, isa := range normISAs(b) {
		b.Run(string(isa), func(b *testing.B) {
			b.SetBytes(int64(12 * size))
			for b.Loop() {
				Add(isa, x, y, z)
			}
		})
	}
}
