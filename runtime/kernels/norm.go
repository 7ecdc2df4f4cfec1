package kernels

import (
	"fmt"
	"math"
)

// normChunk is the most pixels a kernel sums in float32.
const normChunk = 256

// flatUnit is the floats of a flat kernel's smallest parallel part.
const flatUnit = 4096

// checkNorm panics unless n, c and hw describe a blocked tensor and every
// operand has its length (want[i] for lens[i]; -1 means may be nil, else
// want[i+1]).
func checkNorm(what string, n, c, hw int, lens ...[2]int) {
	if n < 0 || hw < 0 || c < 0 || c%Block != 0 {
		panic(fmt.Sprintf("kernels.%s: bad shape n=%d c=%d hw=%d (c must be a multiple of %d)", what, n, c, hw, Block))
	}
	for i, l := range lens {
		if l[0] != l[1] {
			panic(fmt.Sprintf("kernels.%s: n=%d c=%d hw=%d: operand %d has %d values, want %d", what, n, c, hw, i, l[0], l[1]))
		}
	}
}

// coefs is the length of a per-channel vector: c, or n·c per image.
func coefs(n, c int, perImage bool) int {
	if perImage {
		return n * c
	}
	return c
}

// coef is the Block coefficients of block-plane p (image p/(c/Block)) in
// v, or zeros when v is nil.
func coef(v []float32, p, c int, perImage bool) []float32 {
	if v == nil {
		return zeroBlock[:]
	}
	o := p % (c / Block) * Block
	if perImage {
		o += p / (c / Block) * c
	}
	return v[o : o+Block]
}

var zeroBlock [Block]float32

// Affine sets y = x·scale + shift per channel, then max(0, ·) if relu, on
// a blocked n×c×hw tensor; scale and shift have c values, or n·c if
// perImage. y may alias x. Batch normalization applies with scale = γ/σ
// and shift = β − μγ/σ, group normalization with per-image coefficients.
func Affine(isa ISA, n, c, hw int, x, scale, shift []float32, perImage bool, relu bool, y []float32) {
	size, nc := n*c*hw, coefs(n, c, perImage)
	checkNorm("Affine", n, c, hw, [2]int{len(x), size}, [2]int{len(scale), nc}, [2]int{len(shift), nc}, [2]int{len(y), size})
	floor := float32(math.Inf(-1))
	if relu {
		floor = 0
	}
	k := isa.impl().asm
	plane := hw * Block
	Parallel(size/max(plane, 1), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			affinePlane(k, x[p*plane:(p+1)*plane], y[p*plane:(p+1)*plane], coef(scale, p, c, perImage), coef(shift, p, c, perImage), floor)
		}
	})
}

// affinePlane sets y = max(floor, x·scale + shift) on a block-plane, with
// the assembly kernels k, or in Go if k is nil.
func affinePlane(k *asmKernels, x, y, scale, shift []float32, floor float32) {
	switch {
	case len(x) == 0:
	case k != nil:
		k.affine(&x[0], &y[0], &scale[0], &shift[0], len(x)/Block, floor)
	default:
		affineGeneric(x, y, scale, shift, floor)
	}
}

func affineGeneric(x, y, scale, shift []float32, floor float32) {
	for i := 0; i < len(x); i += Block {
		x, y := x[i:i+Block], y[i:i+Block]
		for j := range Block {
			v := x[j]*scale[j] + shift[j]
			if v < floor {
				v = floor
			}
			y[j] = v
		}
	}
}

// ChannelSums sets sum and sumsq (n·c values) to the sums over pixels of
// x and of x² per image and channel, of a blocked n×c×hw tensor x.
func ChannelSums(isa ISA, n, c, hw int, x []float32, sum, sumsq []float64) {
	size := n * c * hw
	checkNorm("ChannelSums", n, c, hw, [2]int{len(x), size}, [2]int{len(sum), n * c}, [2]int{len(sumsq), n * c})
	k := isa.impl().asm
	plane := hw * Block
	Parallel(n*c/Block, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s, q := sum[p*Block:(p+1)*Block], sumsq[p*Block:(p+1)*Block]
			clear(s)
			clear(q)
			x := x[p*plane : (p+1)*plane]
			if k == nil {
				for i := 0; i < len(x); i += Block {
					for j, v := range x[i : i+Block] {
						s[j] += float64(v)
						q[j] += float64(v) * float64(v)
					}
				}
				continue
			}
			var out [2 * Block]float32
			for i := 0; i < len(x); i += normChunk * Block {
				chunk := x[i:min(len(x), i+normChunk*Block)]
				k.channelSums(&chunk[0], len(chunk)/Block, &out[0])
				addChunk(s, q, &out)
			}
		}
	})
}

// addChunk adds a chunk's float32 sums to s and q.
func addChunk(s, q []float64, out *[2 * Block]float32) {
	for j := range Block {
		s[j] += float64(out[j])
		q[j] += float64(out[Block+j])
	}
}

// BackwardReduce sets dz = dy where mask > 0 and 0 elsewhere (the
// gradient through a ReLU whose output is mask), or dz = dy if mask is
// nil, and sumDz and sumDzX (n·c values) to the sums over pixels of dz
// and of dz·x per image and channel, on blocked n×c×hw tensors. dz may
// alias dy.
func BackwardReduce(isa ISA, n, c, hw int, dy, x, mask, dz []float32, sumDz, sumDzX []float64) {
	size := n * c * hw
	lm := size
	if mask == nil {
		lm = 0
	}
	checkNorm("BackwardReduce", n, c, hw, [2]int{len(dy), size}, [2]int{len(x), size}, [2]int{len(mask), lm},
		[2]int{len(dz), size}, [2]int{len(sumDz), n * c}, [2]int{len(sumDzX), n * c})
	k := isa.impl().asm
	plane := hw * Block
	Parallel(n*c/Block, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s, q := sumDz[p*Block:(p+1)*Block], sumDzX[p*Block:(p+1)*Block]
			clear(s)
			clear(q)
			dy, x, dz := dy[p*plane:(p+1)*plane], x[p*plane:(p+1)*plane], dz[p*plane:(p+1)*plane]
			var m []float32
			if mask != nil {
				m = mask[p*plane : (p+1)*plane]
			}
			if k == nil {
				for i := 0; i < len(x); i += Block {
					for j := range Block {
						g := dy[i+j]
						if m != nil && !(m[i+j] > 0) {
							g = 0
						}
						dz[i+j] = g
						s[j] += float64(g)
						q[j] += float64(g) * float64(x[i+j])
					}
				}
				continue
			}
			if m == nil && plane > 0 && &dz[0] != &dy[0] {
				copy(dz, dy)
			}
			var out [2 * Block]float32
			for i := 0; i < len(x); i += normChunk * Block {
				e := min(len(x), i+normChunk*Block)
				if m != nil {
					k.backwardReduce(&dy[i], &x[i], &m[i], &dz[i], (e-i)/Block, &out[0])
				} else {
					k.backwardSums(&dz[i], &x[i], (e-i)/Block, &out[0])
				}
				addChunk(s, q, &out)
			}
		}
	})
}

// BackwardApply sets dx = a·dz + b·x + k per channel on blocked n×c×hw
// tensors; a, b and k have c values, or n·c if perImage. b and k may be
// nil, meaning zero (a frozen batch normalization: dx = a·dz). dx may
// alias dz.
func BackwardApply(isa ISA, n, c, hw int, dz, x, a, b, k []float32, perImage bool, dx []float32) {
	size, nc := n*c*hw, coefs(n, c, perImage)
	lx, lb, lk := size, nc, nc
	if b == nil {
		lx, lb = len(x), 0 // x is not read
	}
	if k == nil {
		lk = 0
	}
	checkNorm("BackwardApply", n, c, hw, [2]int{len(dz), size}, [2]int{len(x), lx}, [2]int{len(a), nc},
		[2]int{len(b), lb}, [2]int{len(k), lk}, [2]int{len(dx), size})
	ks := isa.impl().asm
	plane := hw * Block
	Parallel(size/max(plane, 1), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dz, dx := dz[p*plane:(p+1)*plane], dx[p*plane:(p+1)*plane]
			ap, kp := coef(a, p, c, perImage), coef(k, p, c, perImage)
			switch {
			case b == nil:
				affinePlane(ks, dz, dx, ap, kp, float32(math.Inf(-1)))
			case len(dz) == 0:
			case ks != nil:
				bp := coef(b, p, c, perImage)
				ks.backwardApply(&dz[0], &x[p*plane], &dx[0], &ap[0], &bp[0], &kp[0], len(dz)/Block)
			default:
				backwardApplyGeneric(dz, x[p*plane:(p+1)*plane], dx, ap, coef(b, p, c, perImage), kp)
			}
		}
	})
}

func backwardApplyGeneric(dz, x, dx, a, b, k []float32) {
	for i := 0; i < len(dz); i += Block {
		dz, x, dx := dz[i:i+Block], x[i:i+Block], dx[i:i+Block]
		for j := range Block {
			dx[j] = a[j]*dz[j] + b[j]*x[j] + k[j]
		}
	}
}

// flat runs f on contiguous parts of [0, n), in parallel for large n.
func flat(n int, f func(lo, hi int)) {
	Parallel((n+flatUnit-1)/flatUnit, func(lo, hi int) { f(lo*flatUnit, min(n, hi*flatUnit)) })
}

// ReLUBackward sets dx = dy where y > 0 and 0 elsewhere (y is the ReLU's
// output); dx may alias dy.
func ReLUBackward(isa ISA, y, dy, dx []float32) {
	binary("ReLUBackward", isa, y, dy, dx, func(k *asmKernels) func(a, b, y *float32, rows int) { return k.reluBackward }, func(y, dy float32) float32 {
		if y > 0 {
			return dy
		}
		return 0
	})
}

// Add sets y = a + b; y may alias a or b.
func Add(isa ISA, a, b, y []float32) {
	binary("Add", isa, a, b, y, func(k *asmKernels) func(a, b, y *float32, rows int) { return k.add }, func(a, b float32) float32 { return a + b })
}

// binary sets y[i] = op(a[i], b[i]) in parallel parts, whole rows of
// Block floats with isa's assembly kernel rows (if isa has assembly), the
// tail in Go.
func binary(name string, isa ISA, a, b, y []float32, rows func(*asmKernels) func(a, b, y *float32, rows int), op func(a, b float32) float32) {
	if len(b) != len(a) || len(y) != len(a) {
		panic(fmt.Sprintf("kernels.%s: lengths %d, %d, %d differ", name, len(a), len(b), len(y)))
	}
	var kernel func(a, b, y *float32, rows int)
	if k := isa.impl().asm; k != nil {
		kernel = rows(k)
	}
	flat(len(a), func(lo, hi int) {
		a, b, y := a[lo:hi], b[lo:hi], y[lo:hi]
		body := len(a) / Block * Block
		if kernel != nil && body > 0 {
			kernel(&a[0], &b[0], &y[0], body/Block)
			a, b, y = a[body:], b[body:], y[body:]
		}
		for i := range a {
			y[i] = op(a[i], b[i])
		}
	})
}
