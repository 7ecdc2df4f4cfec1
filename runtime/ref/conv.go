package ref

import "fmt"

// Conv is the shape of a 2-D convolution: input N×C×H×W (NCHW), weights
// K×C×R×S, output N×K×P×Q, square stride and zero padding on all sides, no
// bias.
type Conv struct{ N, C, H, W, K, R, S, Stride, Pad int }

// P is the output height, (H+2·Pad-R)/Stride+1.
func (c Conv) P() int { return (c.H+2*c.Pad-c.R)/c.Stride + 1 }

// Q is the output width, (W+2·Pad-S)/Stride+1.
func (c Conv) Q() int { return (c.W+2*c.Pad-c.S)/c.Stride + 1 }

// FLOPs is the number of floating-point operations of the forward
// convolution, 2·N·K·P·Q·C·R·S; each backward op costs the same.
func (c Conv) FLOPs() int { return 2 * c.N * c.K * c.P() * c.Q() * c.C * c.R * c.S }

// String formats c compactly, as in "N64 C16 28x28 K16 3x3/1 p1".
func (c Conv) String() string {
	return fmt.Sprintf("N%d C%d %dx%d K%d %dx%d/%d p%d", c.N, c.C, c.H, c.W, c.K, c.R, c.S, c.Stride, c.Pad)
}

// checkConv panics unless c is a valid shape and x, w, y have the lengths of
// its input, weights and output (x and y may be the gradients of those).
func checkConv[T Float](c Conv, op string, x, w, y []T, xName, wName, yName string) {
	if c.N <= 0 || c.C <= 0 || c.H <= 0 || c.W <= 0 || c.K <= 0 || c.R <= 0 || c.S <= 0 ||
		c.Stride <= 0 || c.Pad < 0 || c.H+2*c.Pad < c.R || c.W+2*c.Pad < c.S {
		panic(fmt.Sprintf("ref.%s: invalid convolution %+v", op, c))
	}
	checkLen(op, xName, x, c.N*c.C*c.H*c.W)
	checkLen(op, wName, w, c.K*c.C*c.R*c.S)
	checkLen(op, yName, y, c.N*c.K*c.P()*c.Q())
}

// pointwise reports whether the convolution is a plain matrix product per
// image, with no need for im2col.
func (c Conv) pointwise() bool { return c.R == 1 && c.S == 1 && c.Stride == 1 && c.Pad == 0 }

// The convolutions are matrix products per image. With D = C·R·S, the
// weights are a K×D matrix and im2col turns the image into a D×PQ matrix
// of columns, so that
//
//	y    = w · cols       (K×PQ)
//	dcol = wᵀ · dy        (D×PQ), then col2im adds dcol into dx
//	dw  += dy · colsᵀ     (K×D), summed over the images
//
// Images are processed in chunks in parallel; the weight gradient of each
// chunk is added into dw in chunk order.

// Convolver runs the convolutions on a matrix product of its choice: the
// reference one (the package's Conv2D functions) or a faster one, which
// then shares this package's im2col, col2im and batch partitioning.
type Convolver[T Float] struct {
	GEMM GEMM[T]
}

// Reference is the convolver on this package's own matrix product.
func Reference[T Float]() Convolver[T] { return Convolver[T]{gemm[T]} }

// Conv2D computes the convolution y = x ⋆ w, overwriting y.
func Conv2D[T Float](c Conv, x, w, y []T) { Reference[T]().Conv2D(c, x, w, y) }

// Conv2DBackwardData computes dx, the gradient of the loss with respect to
// the input x of Conv2D given the gradient dy of its output, overwriting dx.
func Conv2DBackwardData[T Float](c Conv, dy, w, dx []T) {
	Reference[T]().Conv2DBackwardData(c, dy, w, dx)
}

// Conv2DBackwardWeight computes dw, the gradient of the loss with respect
// to the weights w of Conv2D given its input x and the gradient dy of its
// output, summed over the batch; it overwrites dw.
func Conv2DBackwardWeight[T Float](c Conv, x, dy, dw []T) {
	Reference[T]().Conv2DBackwardWeight(c, x, dy, dw)
}

// Conv2D is the package's Conv2D with the convolver's matrix product.
func (cv Convolver[T]) Conv2D(c Conv, x, w, y []T) {
	checkConv(c, "Conv2D", x, w, y, "x", "w", "y")
	in, pq, d := c.C*c.H*c.W, c.P()*c.Q(), c.C*c.R*c.S
	wm := Matrix[T]{w, d, 1}
	forChunks(c.N, func(_, lo, hi int) {
		var cols *[]T
		if !c.pointwise() {
			cols = getScratch[T](d * pq)
			defer putScratch(cols)
		}
		for i := lo; i < hi; i++ {
			b := x[i*in : (i+1)*in]
			if cols != nil {
				im2col(c, b, *cols)
				b = *cols
			}
			cv.GEMM(c.K, pq, d, wm, Matrix[T]{b, pq, 1}, y[i*c.K*pq:(i+1)*c.K*pq], pq, false)
		}
	})
}

// Conv2DBackwardData is the package's Conv2DBackwardData with the
// convolver's matrix product.
func (cv Convolver[T]) Conv2DBackwardData(c Conv, dy, w, dx []T) {
	checkConv(c, "Conv2DBackwardData", dx, w, dy, "dx", "w", "dy")
	in, pq, d := c.C*c.H*c.W, c.P()*c.Q(), c.C*c.R*c.S
	wt := Matrix[T]{w, 1, d}
	forChunks(c.N, func(_, lo, hi int) {
		var dcols *[]T
		if !c.pointwise() {
			dcols = getScratch[T](d * pq)
			defer putScratch(dcols)
		}
		for i := lo; i < hi; i++ {
			dyi := Matrix[T]{dy[i*c.K*pq : (i+1)*c.K*pq], pq, 1}
			dxi := dx[i*in : (i+1)*in]
			if dcols == nil {
				cv.GEMM(d, pq, c.K, wt, dyi, dxi, pq, false)
				continue
			}
			cv.GEMM(d, pq, c.K, wt, dyi, *dcols, pq, false)
			col2im(c, *dcols, dxi)
		}
	})
}

// Conv2DBackwardWeight is the package's Conv2DBackwardWeight with the
// convolver's matrix product.
func (cv Convolver[T]) Conv2DBackwardWeight(c Conv, x, dy, dw []T) {
	checkConv(c, "Conv2DBackwardWeight", x, dw, dy, "x", "dw", "dy")
	in, pq, d := c.C*c.H*c.W, c.P()*c.Q(), c.C*c.R*c.S
	done := make([]chan struct{}, numChunks(c.N))
	for i := range done {
		done[i] = make(chan struct{})
	}
	forChunks(c.N, func(chunk, lo, hi int) {
		var cols *[]T
		if !c.pointwise() {
			cols = getScratch[T](d * pq)
			defer putScratch(cols)
		}
		// The first chunk sums straight into dw; every other chunk sums
		// into a partial of its own and adds it into dw once the chunk
		// before it has, so that partials are added in chunk order.
		acc := dw
		if chunk > 0 {
			part := getScratch[T](len(dw))
			defer putScratch(part)
			acc = *part
		}
		for i := lo; i < hi; i++ {
			b := x[i*in : (i+1)*in]
			if cols != nil {
				im2col(c, b, *cols)
				b = *cols
			}
			dyi := Matrix[T]{dy[i*c.K*pq : (i+1)*c.K*pq], pq, 1}
			cv.GEMM(c.K, d, pq, dyi, Matrix[T]{b, 1, pq}, acc, d, i > lo)
		}
		if chunk > 0 {
			<-done[chunk-1]
			addTo(dw, acc)
		}
		close(done[chunk])
	})
}

// addTo sets y += x.
func addTo[T Float](y, x []T) {
	x = x[:len(y)]
	for i := range y {
		y[i] += x[i]
	}
}

// span returns the range [lo, hi) of the n output positions o whose input
// position o·stride+off lies in [0, size).
func span(n, stride, off, size int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if size-off > 0 {
		hi = (size-off-1)/stride + 1
	}
	hi = min(hi, n)
	return min(lo, hi), hi
}

// im2col writes the columns of one image x (C×H×W) into cols (C·R·S ×
// P·Q): row (ch, r, s) and column (p, q) hold x[ch][p·Stride-Pad+r]
// [q·Stride-Pad+s], or 0 where that lies in the padding.
func im2col[T Float](c Conv, x, cols []T) {
	P, Q, hw := c.P(), c.Q(), c.H*c.W
	for ch := range c.C {
		plane := x[ch*hw : (ch+1)*hw]
		for r := range c.R {
			plo, phi := span(P, c.Stride, r-c.Pad, c.H)
			for s := range c.S {
				row := cols[((ch*c.R+r)*c.S+s)*P*Q:][:P*Q]
				qlo, qhi := span(Q, c.Stride, s-c.Pad, c.W)
				clear(row[:plo*Q])
				clear(row[phi*Q:])
				for p := plo; p < phi; p++ {
					out := row[p*Q : (p+1)*Q]
					in := plane[(p*c.Stride+r-c.Pad)*c.W:][:c.W]
					clear(out[:qlo])
					clear(out[qhi:])
					iw := qlo*c.Stride + s - c.Pad
					if c.Stride == 1 {
						copy(out[qlo:qhi], in[iw:])
						continue
					}
					for q := qlo; q < qhi; q++ {
						out[q] = in[iw]
						iw += c.Stride
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it sets dx (C×H×W) to the sum, over
// the entries of dcols (C·R·S × P·Q), of each entry at the input position
// im2col took it from.
func col2im[T Float](c Conv, dcols, dx []T) {
	P, Q, hw := c.P(), c.Q(), c.H*c.W
	clear(dx)
	for ch := range c.C {
		plane := dx[ch*hw : (ch+1)*hw]
		for r := range c.R {
			plo, phi := span(P, c.Stride, r-c.Pad, c.H)
			for s := range c.S {
				row := dcols[((ch*c.R+r)*c.S+s)*P*Q:][:P*Q]
				qlo, qhi := span(Q, c.Stride, s-c.Pad, c.W)
				for p := plo; p < phi; p++ {
					d := row[p*Q : (p+1)*Q]
					in := plane[(p*c.Stride+r-c.Pad)*c.W:][:c.W]
					iw := qlo*c.Stride + s - c.Pad
					if c.Stride == 1 {
						addTo(in[iw:iw+qhi-qlo], d[qlo:qhi])
						continue
					}
					for q := qlo; q < qhi; q++ {
						in[iw] += d[q]
						iw += c.Stride
					}
				}
			}
		}
	}
}
