package kernels

import (
	"fmt"
	"sync"

	"github.com/netc/netc/runtime/ref"
)

// kc is the depth of one packed block: panels of A and B stay in L1/L2.
const kc = 256

// scratch holds the packed panels of one Sgemm call.
type scratch struct{ a, b, tile []float32 }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Sgemm computes c = a·b, or c += a·b if acc, on the ISA's micro-kernel:
// a is m×k, b is k×n (strided views, so either may be a transpose), c is
// m×n, row-major with row stride ldc. It packs panels of a and b, runs the
// micro-kernel on every register tile, and sends edge tiles through a
// scratch tile. It has the signature of ref.GEMM.
func Sgemm(isa ISA, m, n, k int, a, b ref.Matrix[float32], c []float32, ldc int, acc bool) {
	if m < 0 || n < 0 || k < 0 || ldc < n {
		panic(fmt.Sprintf("kernels.Sgemm: bad shape m=%d n=%d k=%d ldc=%d", m, n, k, ldc))
	}
	if m == 0 || n == 0 {
		return
	}
	if !acc {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
	}
	if k == 0 {
		return
	}
	im := isa.impl()
	mr, nr := im.Gemm.Rows, im.Gemm.Cols // the micro-kernel's register tile of C
	nPanels, mPanels := (n+nr-1)/nr, (m+mr-1)/mr
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	bp := grow(sc.b, nPanels*kc*nr)
	ap := grow(sc.a, mr*kc)
	tile := grow(sc.tile, mr*nr)
	sc.a, sc.b, sc.tile = ap, bp, tile
	for p0 := 0; p0 < k; p0 += kc {
		kb := min(kc, k-p0)
		// Pack b[p0:p0+kb, :] into column panels of nr, zero-padded.
		for jp := range nPanels {
			panel := bp[jp*kc*nr:][:kb*nr]
			j0 := jp * nr
			cols := min(nr, n-j0)
			for p := range kb {
				dst := panel[p*nr : (p+1)*nr]
				src := b.Data[(p0+p)*b.RS+j0*b.CS:]
				if b.CS == 1 {
					copy(dst, src[:cols])
				} else {
					for j := range cols {
						dst[j] = src[j*b.CS]
					}
				}
				clear(dst[cols:])
			}
		}
		for ip := range mPanels {
			i0 := ip * mr
			rows := min(mr, m-i0)
			// Pack a[i0:i0+mr, p0:p0+kb] column by column, zero-padded.
			for i := range mr {
				if i >= rows {
					for p := range kb {
						ap[p*mr+i] = 0
					}
					continue
				}
				src := a.Data[(i0+i)*a.RS+p0*a.CS:]
				for p := range kb {
					ap[p*mr+i] = src[p*a.CS]
				}
			}
			for jp := range nPanels {
				j0 := jp * nr
				cols := min(nr, n-j0)
				panel := bp[jp*kc*nr:][:kb*nr]
				if rows == mr && cols == nr {
					microKernel(im.asm, mr, nr, kb, ap[:kb*mr], panel, c[i0*ldc+j0:], ldc)
					continue
				}
				clear(tile)
				microKernel(im.asm, mr, nr, kb, ap[:kb*mr], panel, tile, nr)
				for i := range rows {
					dst := c[(i0+i)*ldc+j0:][:cols]
					for j, v := range tile[i*nr : i*nr+cols] {
						dst[j] += v
					}
				}
			}
		}
	}
}

// Convolver is the convolutions of runtime/ref on Sgemm for isa.
func Convolver(isa ISA) ref.Convolver[float32] {
	return ref.Convolver[float32]{GEMM: func(m, n, k int, a, b ref.Matrix[float32], c []float32, ldc int, acc bool) {
		Sgemm(isa, m, n, k, a, b, c, ldc, acc)
	}}
}

// microKernel runs the assembly micro-kernel of k, or gemmGeneric if k
// is nil, on an mr×nr tile.
func microKernel(k *asmKernels, mr, nr, depth int, ap, bp, c []float32, ldc int) {
	if k == nil {
		gemmGeneric(mr, nr, depth, ap, bp, c, ldc)
		return
	}
	k.sgemmKernel(depth, &ap[0], &bp[0], &c[0], ldc)
}

// gemmGeneric is the pure-Go micro-kernel: c[mr×nr] += ap·bp, with the
// packing of the assembly kernels.
func gemmGeneric(mr, nr, k int, ap, bp, c []float32, ldc int) {
	for i := range mr {
		row := c[i*ldc : i*ldc+nr]
		for p := range k {
			av := ap[p*mr+i]
			for j, bv := range bp[p*nr : (p+1)*nr] {
				row[j] += av * bv
			}
		}
	}
}
