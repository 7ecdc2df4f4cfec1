package kernels

import "fmt"

// gemmShape is the register tile of an ISA's GEMM micro-kernel: mr rows by
// nr columns of C (see asm.GemmRows).
func gemmShape(isa ISA) (mr, nr int) {
	switch isa {
	case AVX2:
		return 6, 16
	case AVX512:
		return 14, 32
	}
	return 4, 8
}

// kc is the depth of one packed block: panels of A and B stay in L1/L2.
const kc = 256

// Sgemm adds A·B to C for row-major float32 matrices: A is m×k with row
// stride lda, B is k×n with stride ldb, C is m×n with stride ldc. It packs
// panels of A and B and runs the ISA's micro-kernel on every register
// tile; edge tiles go through a scratch tile.
func Sgemm(isa ISA, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0 || lda < k || ldb < n || ldc < n:
		panic(fmt.Sprintf("kernels.Sgemm: bad shape m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", m, n, k, lda, ldb, ldc))
	case m == 0 || n == 0 || k == 0:
		return
	case len(a) < (m-1)*lda+k || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n:
		panic("kernels.Sgemm: a slice is shorter than its matrix")
	}
	mr, nr := gemmShape(isa)
	nPanels, mPanels := (n+nr-1)/nr, (m+mr-1)/mr
	bp := make([]float32, nPanels*kc*nr)
	ap := make([]float32, mr*kc)
	tile := make([]float32, mr*nr)
	for p0 := 0; p0 < k; p0 += kc {
		kb := min(kc, k-p0)
		// Pack B[p0:p0+kb, :] into column panels of nr, zero-padded.
		for jp := range nPanels {
			panel := bp[jp*kc*nr:][:kb*nr]
			for p := range kb {
				row := b[(p0+p)*ldb:]
				dst := panel[p*nr : (p+1)*nr]
				j0 := jp * nr
				w := copy(dst, row[j0:min(j0+nr, n)])
				clear(dst[w:])
			}
		}
		for ip := range mPanels {
			i0 := ip * mr
			rows := min(mr, m-i0)
			// Pack A[i0:i0+mr, p0:p0+kb] column by column, zero-padded.
			for p := range kb {
				for i := range mr {
					v := float32(0)
					if i < rows {
						v = a[(i0+i)*lda+p0+p]
					}
					ap[p*mr+i] = v
				}
			}
			for jp := range nPanels {
				j0 := jp * nr
				cols := min(nr, n-j0)
				panel := bp[jp*kc*nr:][:kb*nr]
				if rows == mr && cols == nr {
					microKernel(isa, kb, ap[:kb*mr], panel, c[i0*ldc+j0:], ldc)
					continue
				}
				clear(tile)
				microKernel(isa, kb, ap[:kb*mr], panel, tile, nr)
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
