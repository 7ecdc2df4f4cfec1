package kernels

import "github.com/netc/netc/runtime/ref"

// MaxPool is ref.MaxPool on blocked tensors (n images × c channels ×
// h×w pixels, NCHW16c): the maximum over k×k windows moved by stride,
// with pad positions of padding that never win, written to y; arg gets,
// per output element, the input pixel index (row-major within the plane)
// of its maximum, the first on ties. It stays in Go: it is not hot (one
// layer of the ImageNet stem).
func MaxPool(n, c, h, w, k, stride, pad int, x, y []float32, arg []int32) {
	p, q := ref.PoolOut(h, k, stride, pad), ref.PoolOut(w, k, stride, pad)
	Parallel(n*c/Block, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			xp := x[b*h*w*Block : (b+1)*h*w*Block]
			yp, ap := y[b*p*q*Block:(b+1)*p*q*Block], arg[b*p*q*Block:(b+1)*p*q*Block]
			for i := range p {
				h0, h1 := max(i*stride-pad, 0), min(i*stride-pad+k, h)
				for j := range q {
					w0, w1 := max(j*stride-pad, 0), min(j*stride-pad+k, w)
					o := (i*q + j) * Block
					first := h0*w + w0
					for l := range Block {
						yp[o+l], ap[o+l] = xp[first*Block+l], int32(first)
					}
					for hh := h0; hh < h1; hh++ {
						for ww := w0; ww < w1; ww++ {
							px := hh*w + ww
							for l, v := range xp[px*Block : (px+1)*Block] {
								if v > yp[o+l] {
									yp[o+l], ap[o+l] = v, int32(px)
								}
							}
						}
					}
				}
			}
		}
	})
}

// MaxPoolBackward routes dy back to the maxima MaxPool recorded in arg,
// overwriting dx (blocked); overlapping windows add up.
func MaxPoolBackward(n, c, h, w, k, stride, pad int, dy []float32, arg []int32, dx []float32) {
	pq := ref.PoolOut(h, k, stride, pad) * ref.PoolOut(w, k, stride, pad)
	Parallel(n*c/Block, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			dxp := dx[b*h*w*Block : (b+1)*h*w*Block]
			clear(dxp)
			ap := arg[b*pq*Block : (b+1)*pq*Block]
			for o, d := range dy[b*pq*Block : (b+1)*pq*Block] {
				dxp[int(ap[o])*Block+o%Block] += d
			}
		}
	})
}
