package ref

import "fmt"

// PoolOut is the output size of a pooling window of size k with the given
// stride and padding over in positions: (in+2·pad-k)/stride+1.
func PoolOut(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// MaxPool takes the maximum over square windows of size k, moved by
// stride, of the n·c planes of h×w values of x, with pad positions of
// padding on each side that never win (every window must hold a value of
// x, so pad < k). It writes y (n·c planes of PoolOut(h)×PoolOut(w)) and,
// in arg, the index within its input plane of each maximum: the first in
// row-major order on ties.
func MaxPool[T Float](n, c, h, w, k, stride, pad int, x, y []T, arg []int32) {
	p, q := checkPool("MaxPool", n, c, h, w, k, stride, pad)
	checkLen("MaxPool", "x", x, n*c*h*w)
	checkLen("MaxPool", "y", y, n*c*p*q)
	checkLen("MaxPool", "arg", arg, n*c*p*q)
	forRange(n*c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*h*w : (pl+1)*h*w]
			yp, ap := y[pl*p*q:(pl+1)*p*q], arg[pl*p*q:(pl+1)*p*q]
			for i := range p {
				h0, h1 := max(i*stride-pad, 0), min(i*stride-pad+k, h)
				for j := range q {
					w0, w1 := max(j*stride-pad, 0), min(j*stride-pad+k, w)
					best := h0*w + w0
					for hh := h0; hh < h1; hh++ {
						for ww := w0; ww < w1; ww++ {
							if xp[hh*w+ww] > xp[best] {
								best = hh*w + ww
							}
						}
					}
					yp[i*q+j], ap[i*q+j] = xp[best], int32(best)
				}
			}
		}
	})
}

// MaxPoolBackward routes dy back to the maxima MaxPool recorded in arg,
// overwriting dx; overlapping windows add up.
func MaxPoolBackward[T Float](n, c, h, w, k, stride, pad int, dy []T, arg []int32, dx []T) {
	p, q := checkPool("MaxPoolBackward", n, c, h, w, k, stride, pad)
	checkLen("MaxPoolBackward", "dy", dy, n*c*p*q)
	checkLen("MaxPoolBackward", "arg", arg, n*c*p*q)
	checkLen("MaxPoolBackward", "dx", dx, n*c*h*w)
	forRange(n*c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dxp := dx[pl*h*w : (pl+1)*h*w]
			clear(dxp)
			ap := arg[pl*p*q : (pl+1)*p*q]
			for o, d := range dy[pl*p*q : (pl+1)*p*q] {
				dxp[ap[o]] += d
			}
		}
	})
}

// checkPool panics unless the pooling geometry is valid, and returns the
// output height and width.
func checkPool(op string, n, c, h, w, k, stride, pad int) (p, q int) {
	checkDims(op, n, c, h, w, k, stride)
	if pad < 0 || pad >= k || h+2*pad < k || w+2*pad < k {
		panic(fmt.Sprintf("ref.%s: invalid pooling of %dx%d by %d/%d pad %d", op, h, w, k, stride, pad))
	}
	return PoolOut(h, k, stride, pad), PoolOut(w, k, stride, pad)
}

// GlobalAvgPool averages each of the n·c planes of hw values of x into
// y (n×c).
func GlobalAvgPool[T Float](n, c, hw int, x, y []T) {
	checkDims("GlobalAvgPool", n, c, hw)
	checkLen("GlobalAvgPool", "x", x, n*c*hw)
	checkLen("GlobalAvgPool", "y", y, n*c)
	for i := range y {
		y[i] = T(sum(x[i*hw:(i+1)*hw]) / float64(hw))
	}
}

// GlobalAvgPoolBackward spreads each gradient of dy (n×c) evenly over its
// plane of hw values, overwriting dx.
func GlobalAvgPoolBackward[T Float](n, c, hw int, dy, dx []T) {
	checkDims("GlobalAvgPoolBackward", n, c, hw)
	checkLen("GlobalAvgPoolBackward", "dy", dy, n*c)
	checkLen("GlobalAvgPoolBackward", "dx", dx, n*c*hw)
	for i, d := range dy {
		g := T(float64(d) / float64(hw))
		dxp := dx[i*hw : (i+1)*hw]
		for j := range dxp {
			dxp[j] = g
		}
	}
}
