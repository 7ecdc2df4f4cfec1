//go:build purego || !amd64

package kernels

// normAsm reports whether the normalization kernels of isa are assembly:
// never in this build.
func normAsm(ISA) bool { return false }

func affinePlane(_ ISA, x, y, scale, shift []float32, floor float32) {
	affineGeneric(x, y, scale, shift, floor)
}

func backwardApplyPlane(_ ISA, dz, x, dx, a, b, k []float32) {
	backwardApplyGeneric(dz, x, dx, a, b, k)
}

// The chunk kernels are assembly only: normAsm keeps them from being
// called in this build.

func channelSumsChunk(ISA, []float32, *[2 * Block]float32) { panic("kernels: no assembly") }

func backwardReduceChunk(ISA, []float32, []float32, []float32, []float32, *[2 * Block]float32) {
	panic("kernels: no assembly")
}

func backwardSumsChunk(ISA, []float32, []float32, *[2 * Block]float32) { panic("kernels: no assembly") }

func reluBackwardRows(ISA, []float32, []float32, []float32) { panic("kernels: no assembly") }

func addRows(ISA, []float32, []float32, []float32) { panic("kernels: no assembly") }
