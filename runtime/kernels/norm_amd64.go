//go:build !purego

package kernels

// normAsm reports whether the normalization kernels of isa are assembly.
func normAsm(isa ISA) bool { return isa == AVX2 || isa == AVX512 }

// affinePlane sets y = max(floor, x·scale + shift) on a block-plane.
func affinePlane(isa ISA, x, y, scale, shift []float32, floor float32) {
	if len(x) == 0 {
		return
	}
	switch isa {
	case AVX2:
		affineAVX2(&x[0], &y[0], &scale[0], &shift[0], len(x)/Block, floor)
	case AVX512:
		affineAVX512(&x[0], &y[0], &scale[0], &shift[0], len(x)/Block, floor)
	default:
		affineGeneric(x, y, scale, shift, floor)
	}
}

// backwardApplyPlane sets dx = a·dz + b·x + k on a block-plane.
func backwardApplyPlane(isa ISA, dz, x, dx, a, b, k []float32) {
	if len(dz) == 0 {
		return
	}
	switch isa {
	case AVX2:
		backwardApplyAVX2(&dz[0], &x[0], &dx[0], &a[0], &b[0], &k[0], len(dz)/Block)
	case AVX512:
		backwardApplyAVX512(&dz[0], &x[0], &dx[0], &a[0], &b[0], &k[0], len(dz)/Block)
	default:
		backwardApplyGeneric(dz, x, dx, a, b, k)
	}
}

// channelSumsChunk sets out to the float32 sums and sums of squares of a
// chunk of a block-plane (1 to normChunk pixels); isa is AVX2 or AVX512.
func channelSumsChunk(isa ISA, x []float32, out *[2 * Block]float32) {
	if isa == AVX512 {
		channelSumsAVX512(&x[0], len(x)/Block, &out[0])
	} else {
		channelSumsAVX2(&x[0], len(x)/Block, &out[0])
	}
}

// backwardReduceChunk masks dy into dz and sets out to the float32 sums
// of dz and dz·x of a chunk; isa is AVX2 or AVX512.
func backwardReduceChunk(isa ISA, dy, x, mask, dz []float32, out *[2 * Block]float32) {
	if isa == AVX512 {
		backwardReduceAVX512(&dy[0], &x[0], &mask[0], &dz[0], len(dy)/Block, &out[0])
	} else {
		backwardReduceAVX2(&dy[0], &x[0], &mask[0], &dz[0], len(dy)/Block, &out[0])
	}
}

// backwardSumsChunk sets out to the float32 sums of dz and dz·x of a
// chunk; isa is AVX2 or AVX512.
func backwardSumsChunk(isa ISA, dz, x []float32, out *[2 * Block]float32) {
	if isa == AVX512 {
		backwardSumsAVX512(&dz[0], &x[0], len(dz)/Block, &out[0])
	} else {
		backwardSumsAVX2(&dz[0], &x[0], len(dz)/Block, &out[0])
	}
}

// reluBackwardRows is ReLUBackward on a multiple of Block floats (at
// least one row); isa is AVX2 or AVX512.
func reluBackwardRows(isa ISA, y, dy, dx []float32) {
	if isa == AVX512 {
		reluBackwardAVX512(&y[0], &dy[0], &dx[0], len(y)/Block)
	} else {
		reluBackwardAVX2(&y[0], &dy[0], &dx[0], len(y)/Block)
	}
}

// addRows is Add on a multiple of Block floats (at least one row); isa is
// AVX2 or AVX512.
func addRows(isa ISA, a, b, y []float32) {
	if isa == AVX512 {
		addAVX512(&a[0], &b[0], &y[0], len(a)/Block)
	} else {
		addAVX2(&a[0], &b[0], &y[0], len(a)/Block)
	}
}
