package ref

// Linear computes y (n×out) = x (n×in) · wᵀ + b, where w is out×in (the
// PyTorch layout) and b has out entries, or is nil for no bias.
func Linear[T Float](n, in, out int, x, w, b, y []T) {
	checkDims("Linear", n, in, out)
	checkLen("Linear", "x", x, n*in)
	checkLen("Linear", "w", w, out*in)
	checkOpt("Linear", "b", b, out)
	checkLen("Linear", "y", y, n*out)
	forRange(n, func(lo, hi int) {
		yc := y[lo*out : hi*out]
		gemm(hi-lo, out, in, Matrix[T]{x[lo*in : hi*in], in, 1}, Matrix[T]{w, 1, in}, yc, out, false)
		if b != nil {
			for i := range hi - lo {
				addTo(yc[i*out:(i+1)*out], b)
			}
		}
	})
}

// LinearBackward computes the gradients of Linear given its input x,
// weights w and the gradient dy of its output: dx = dy·w, dw = dyᵀ·x and
// db = the sum of dy over n. It overwrites them; any may be nil, to skip
// it.
func LinearBackward[T Float](n, in, out int, x, w, dy, dx, dw, db []T) {
	checkDims("LinearBackward", n, in, out)
	checkLen("LinearBackward", "x", x, n*in)
	checkLen("LinearBackward", "w", w, out*in)
	checkLen("LinearBackward", "dy", dy, n*out)
	checkOpt("LinearBackward", "dx", dx, n*in)
	checkOpt("LinearBackward", "dw", dw, out*in)
	checkOpt("LinearBackward", "db", db, out)
	if dx != nil {
		forRange(n, func(lo, hi int) {
			gemm(hi-lo, in, out, Matrix[T]{dy[lo*out : hi*out], out, 1}, Matrix[T]{w, in, 1}, dx[lo*in:hi*in], in, false)
		})
	}
	if dw != nil {
		forRange(out, func(lo, hi int) {
			gemm(hi-lo, in, n, Matrix[T]{dy[lo:], 1, out}, Matrix[T]{x, in, 1}, dw[lo*in:hi*in], in, false)
		})
	}
	if db != nil {
		clear(db)
		for i := range n {
			addTo(db, dy[i*out:(i+1)*out])
		}
	}
}
