package ref

// The matrix product is a cache-blocked GEMM in the style of GotoBLAS:
// blocks of b (kc×nc) and of a (mc×kc) are packed into panels that the
// micro-kernel streams through, computing an mr×nr tile of c in registers.
// The Go compiler has 15 SSE registers for scalars and tends to compute
// all the products of a step before adding them up, so tiles larger than
// 2×4 spill; 2×4 with the depth loop unrolled 4 times measured fastest
// (4×4 is about half as fast). Packed panels are zero-padded to a multiple
// of 4 in depth.
//
// The sum for one element of c runs over the depth in the same order
// whatever the shape of the blocks around it, and no goroutines are used
// here, so results depend only on the operands.
const (
	mr      = 2   // rows of the micro-kernel tile
	nr      = 4   // columns of the micro-kernel tile
	kUnroll = 4   // unrolling of the micro-kernel's depth loop
	kc      = 256 // depth of a packed block
	mc      = 128 // rows of a packed block of a
	nc      = 512 // columns of a packed block of b
)

// Matrix is a strided view of a matrix: element (i, j) is
// Data[i*RS+j*CS]. A row-major m×n matrix is {data, n, 1}; its transpose
// is {data, 1, n}.
type Matrix[T Float] struct {
	Data   []T
	RS, CS int
}

// GEMM is a matrix product: c = a·b, or c += a·b if acc, where a is m×k,
// b is k×n and c is m×n, row-major with row stride ldc.
type GEMM[T Float] func(m, n, k int, a, b Matrix[T], c []T, ldc int, acc bool)

// gemm computes c = a·b, or c += a·b if acc, where a is m×k, b is k×n and
// c is m×n, row-major with row stride ldc.
func gemm[T Float](m, n, k int, a, b Matrix[T], c []T, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	pa := getScratch[T](roundUp(min(m, mc), mr) * roundUp(min(k, kc), kUnroll))
	pb := getScratch[T](roundUp(min(n, nc), nr) * roundUp(min(k, kc), kUnroll))
	defer putScratch(pa)
	defer putScratch(pb)
	var edge [mr * nr]T
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			kp := roundUp(kb, kUnroll)
			packB(b, pc, jc, kb, nb, kp, *pb)
			add := acc || pc > 0
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(a, ic, pc, mb, kb, kp, *pa)
				for jr := 0; jr < nb; jr += nr {
					bp := (*pb)[jr*kp : (jr+nr)*kp]
					for ir := 0; ir < mb; ir += mr {
						ap := (*pa)[ir*kp : (ir+mr)*kp]
						i, j := ic+ir, jc+jr
						if ir+mr <= mb && jr+nr <= nb {
							kernel(ap, bp, c[i*ldc+j:], ldc, add)
							continue
						}
						// A partial tile at the bottom or right edge.
						h, w := min(mr, mb-ir), min(nr, nb-jr)
						kernel(ap, bp, edge[:], nr, false)
						for ii := range h {
							row := c[(i+ii)*ldc+j : (i+ii)*ldc+j+w]
							for jj := range row {
								if add {
									row[jj] += edge[ii*nr+jj]
								} else {
									row[jj] = edge[ii*nr+jj]
								}
							}
						}
					}
				}
			}
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packA copies the mb×kb block of a at (i0, p0) into dst as panels of mr
// rows: panel r holds, for each depth p < kp, the mr values a(i0+r*mr+ii,
// p0+p). Rows past mb and depths past kb are zero.
func packA[T Float](a Matrix[T], i0, p0, mb, kb, kp int, dst []T) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kp : (ir+mr)*kp]
		h := min(mr, mb-ir)
		for ii := range h {
			src := a.Data[(i0+ir+ii)*a.RS+p0*a.CS:]
			if a.CS == 1 {
				for p, v := range src[:kb] {
					panel[p*mr+ii] = v
				}
			} else {
				for p := range kb {
					panel[p*mr+ii] = src[p*a.CS]
				}
			}
		}
		for ii := h; ii < mr; ii++ {
			for p := range kb {
				panel[p*mr+ii] = 0
			}
		}
		clear(panel[kb*mr:])
	}
}

// packB copies the kb×nb block of b at (p0, j0) into dst as panels of nr
// columns: panel c holds, for each depth p < kp, the nr values b(p0+p,
// j0+c*nr+jj). Columns past nb and depths past kb are zero.
func packB[T Float](b Matrix[T], p0, j0, kb, nb, kp int, dst []T) {
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kp : (jr+nr)*kp]
		w := min(nr, nb-jr)
		if b.CS == 1 && w == nr {
			for p := range kb {
				off := (p0+p)*b.RS + j0 + jr
				copy(panel[p*nr:p*nr+nr], b.Data[off:off+nr:off+nr])
			}
		} else {
			for jj := range w {
				src := b.Data[p0*b.RS+(j0+jr+jj)*b.CS:]
				if b.RS == 1 {
					for p, v := range src[:kb] {
						panel[p*nr+jj] = v
					}
				} else {
					for p := range kb {
						panel[p*nr+jj] = src[p*b.RS]
					}
				}
			}
			for jj := w; jj < nr; jj++ {
				for p := range kb {
					panel[p*nr+jj] = 0
				}
			}
		}
		clear(panel[kb*nr:])
	}
}

// kernel computes the 2×4 tile c = a·b, or c += a·b if add, where a and b
// are packed panels of equal depth (a multiple of 4) and c has row stride
// ldc.
func kernel[T Float](a, b, c []T, ldc int, add bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	for len(a) >= 8 && len(b) >= 16 {
		c00 += a[0] * b[0]
		c01 += a[0] * b[1]
		c02 += a[0] * b[2]
		c03 += a[0] * b[3]
		c10 += a[1] * b[0]
		c11 += a[1] * b[1]
		c12 += a[1] * b[2]
		c13 += a[1] * b[3]

		c00 += a[2] * b[4]
		c01 += a[2] * b[5]
		c02 += a[2] * b[6]
		c03 += a[2] * b[7]
		c10 += a[3] * b[4]
		c11 += a[3] * b[5]
		c12 += a[3] * b[6]
		c13 += a[3] * b[7]

		c00 += a[4] * b[8]
		c01 += a[4] * b[9]
		c02 += a[4] * b[10]
		c03 += a[4] * b[11]
		c10 += a[5] * b[8]
		c11 += a[5] * b[9]
		c12 += a[5] * b[10]
		c13 += a[5] * b[11]

		c00 += a[6] * b[12]
		c01 += a[6] * b[13]
		c02 += a[6] * b[14]
		c03 += a[6] * b[15]
		c10 += a[7] * b[12]
		c11 += a[7] * b[13]
		c12 += a[7] * b[14]
		c13 += a[7] * b[15]

		a = a[8:]
		b = b[16:]
	}
	r0 := c[:nr:nr]
	r1 := c[ldc : ldc+nr : ldc+nr]
	if add {
		r0[0] += c00
		r0[1] += c01
		r0[2] += c02
		r0[3] += c03
		r1[0] += c10
		r1[1] += c11
		r1[2] += c12
		r1[3] += c13
		return
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}
