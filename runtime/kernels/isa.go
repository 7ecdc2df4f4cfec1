package kernels

import (
	"fmt"
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

// preferred is the ISA that Prefer set for the process; "" is the
// fastest available.
var preferred ISA

// Prefer sets the ISA that Select returns, for the whole process: want,
// which this CPU and build must offer (see Available), or "" for the
// fastest. Call it once at start-up, before any model is built: models
// pick their kernels when they are built.
func Prefer(want ISA) error {
	if have := Available(); want != "" && !slices.Contains(have, want) {
		return fmt.Errorf("%q is not available: this CPU and build offer %v", string(want), have)
	}
	preferred = want
	return nil
}

// Select returns the ISA the kernels use: the one Prefer set, else the
// fastest available. Its error is always nil since Prefer validates.
func Select() (ISA, error) {
	if preferred != "" {
		return preferred, nil
	}
	have := Available()
	return have[len(have)-1], nil
}
