package kernels

import "time"

// FMAPeak measures the FMA throughput of isa in GFLOP/s, with threads
// goroutines each running the ISA's peak loop for about d: the limit that
// netc bench reports every kernel against.
func FMAPeak(isa ISA, threads int, d time.Duration) float64 {
	m := isa.impl()
	loop := fmaPeakGeneric
	if m.asm != nil {
		loop = m.asm.fmaPeak
	}
	return peak(loop, m.PeakFlops(), threads, d)
}

// fmaPeakGeneric is the pure-Go peak loop: eight independent
// multiply-add chains (abi.Generic's FMAChains, of one lane).
func fmaPeakGeneric(n int) {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	b, c := float32(0.999), float32(1e-3)
	for range n {
		a0 = a0*b + c
		a1 = a1*b + c
		a2 = a2*b + c
		a3 = a3*b + c
		a4 = a4*b + c
		a5 = a5*b + c
		a6 = a6*b + c
		a7 = a7*b + c
	}
	sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
}

// sink keeps the generic loop's result alive.
var sink float32
