//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// Available lists the ISAs this CPU and build can run, slowest first.
func Available() []ISA {
	isas := []ISA{Generic}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		isas = append(isas, AVX2)
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ { // DQ: VXORPS on zmm
			isas = append(isas, AVX512)
		}
	}
	return isas
}

func fmaLoop(isa ISA, n int) {
	switch isa {
	case AVX2:
		fmaPeakAVX2(n)
	case AVX512:
		fmaPeakAVX512(n)
	default:
		fmaPeakGeneric(n)
	}
}

func microKernel(isa ISA, k int, ap, bp, c []float32, ldc int) {
	switch isa {
	case AVX2:
		sgemmKernelAVX2(k, &ap[0], &bp[0], &c[0], ldc)
	case AVX512:
		sgemmKernelAVX512(k, &ap[0], &bp[0], &c[0], ldc)
	default:
		mr, nr := gemmShape(isa)
		gemmGeneric(mr, nr, k, ap, bp, c, ldc)
	}
}
