package kernels

import (
	"fmt"
	"os"
	"slices"
)

// ISA names a kernel implementation.
type ISA string

// The kernel implementations, from slowest to fastest.
const (
	Generic ISA = "generic" // pure Go
	AVX2    ISA = "avx2"    // AVX2 + FMA, 16 ymm registers
	AVX512  ISA = "avx512"  // AVX-512F, 32 zmm registers
)

// Select returns the ISA the kernels use: NETC_ISA if set (an error if
// this CPU or build lacks it), else the fastest available.
func Select() (ISA, error) {
	have := Available()
	want := ISA(os.Getenv("NETC_ISA"))
	if want == "" {
		return have[len(have)-1], nil
	}
	if !slices.Contains(have, want) {
		return "", fmt.Errorf("NETC_ISA=%s: this CPU and build offer %v", want, have)
	}
	return want, nil
}
