//go:build purego || !amd64

package kernels

// Available lists the ISAs this CPU and build can run: pure Go only.
func Available() []ISA { return []ISA{Generic} }

func fmaLoop(_ ISA, n int) { fmaPeakGeneric(n) }

func microKernel(isa ISA, k int, ap, bp, c []float32, ldc int) {
	mr, nr := gemmShape(isa)
	gemmGeneric(mr, nr, k, ap, bp, c, ldc)
}
