//go:build purego || !amd64

package kernels

// Available lists the ISAs this CPU and build can run: pure Go only.
func Available() []ISA { return []ISA{Generic} }

func fmaLoop(_ ISA, n int) { fmaPeakGeneric(n) }
