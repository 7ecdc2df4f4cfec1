//go:build !purego

package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/netc/netc/runtime/kernels/abi"
)

func init() {
	avx2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA
	register(&abi.AVX2, avx2, false, &asmAVX2)
	register(&abi.AVX512, avx2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ, cpu.X86.HasAVX512BF16, &asmAVX512) // DQ: VXORPS on zmm
}
