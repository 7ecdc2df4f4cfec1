package ref

// ReLU sets y = max(x, 0). x and y may alias.
func ReLU[T Float](x, y []T) {
	checkLen("ReLU", "y", y, len(x))
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// ReLUBackward sets dx = dy where the ReLU's output y > 0, else 0. The
// slices may alias.
func ReLUBackward[T Float](y, dy, dx []T) {
	checkLen("ReLUBackward", "dy", dy, len(y))
	checkLen("ReLUBackward", "dx", dx, len(y))
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// Add sets y = a + b. The slices may alias.
func Add[T Float](a, b, y []T) {
	checkLen("Add", "b", b, len(a))
	checkLen("Add", "y", y, len(a))
	for i, v := range a {
		y[i] = v + b[i]
	}
}

// ChannelAffine sets y = x·scale[c] + shift[c] per channel of x, viewed as
// n×c×hw; a nil shift adds nothing. x and y may alias. It normalizes input
// pixels, and with the same scale and no shift it is its own backward.
func ChannelAffine[T Float](n, c, hw int, x, scale, shift, y []T) {
	checkDims("ChannelAffine", n, c, hw)
	checkLen("ChannelAffine", "x", x, n*c*hw)
	checkLen("ChannelAffine", "scale", scale, c)
	checkOpt("ChannelAffine", "shift", shift, c)
	checkLen("ChannelAffine", "y", y, n*c*hw)
	for i := range n {
		for ch := range c {
			a, b := scale[ch], T(0)
			if shift != nil {
				b = shift[ch]
			}
			off := (i*c + ch) * hw
			yc := y[off : off+hw]
			for j, v := range x[off : off+hw] {
				yc[j] = v*a + b
			}
		}
	}
}
