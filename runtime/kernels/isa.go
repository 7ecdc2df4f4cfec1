package kernels

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/netc/netc/runtime/kernels/abi"
)

// ISA names a kernel implementation: an instruction set of package abi
// (its Name) that this build has kernels for.
type ISA string

// The kernel implementations, from slowest to fastest.
const (
	Generic ISA = "generic" // pure Go
	AVX2    ISA = "avx2"    // AVX2 + FMA, 16 ymm registers
	AVX512  ISA = "avx512"  // AVX-512F, 32 zmm registers
)

// impl is the kernels of one ISA.
type impl struct {
	*abi.ISA
	available bool        // this CPU runs them
	bf16      bool        // this CPU runs their bf16 kernels too (ISA.BF16 and AVX512_BF16)
	asm       *asmKernels // the assembly kernels; nil: the Go kernels
}

// asmKernels are one ISA's assembly kernels, as package asm writes them
// (its table_amd64.go fills one per ISA).
type asmKernels struct {
	fmaPeak        func(n int)
	sgemmKernel    func(k int, a, b, c *float32, ldc int)
	affine         func(x, y, scale, shift *float32, pixels int, floor float32)
	channelSums    func(x *float32, pixels int, out *float32)
	backwardSums   func(dz, x *float32, pixels int, out *float32)
	backwardReduce func(dy, x, mask, dz *float32, pixels int, out *float32)
	backwardApply  func(dz, x, dx, a, b, k *float32, pixels int)
	reluBackward   func(y, dy, dx *float32, rows int)
	add            func(a, b, y *float32, rows int)
	// The bf16 kernels, where the ISA has them (abi.ISA.BF16).
	bf16Peak func(n int)
	bf16Dot  func(acc, a, b *float32)
	// bf16DotBroadcast is bf16Dot with b's first pair broadcast.
	bf16DotBroadcast func(acc, a, b *float32)
	bf16Convert      func(dst, lo, hi *float32)
	// bf16FromFloat32 rounds pixels×16 float32 to bf16 (see ToBF16s).
	bf16FromFloat32 func(dst *uint16, src *float32, pixels int)
	// outer are the outer kernels by shape (abi.OuterShapes), tile
	// (ISA.Tiles) and tile height−1.
	outer [][][]func(*uintptr)
}

// impls are the registered implementations, slowest first: the Go
// kernels, then those register adds.
var impls = []*impl{{ISA: &abi.Generic, available: true}}

// register adds the assembly kernels of isa, which this CPU runs if
// available (and their bf16 kernels if bf16 too). Each ISA registers
// once, from an init function.
func register(isa *abi.ISA, available, bf16 bool, k *asmKernels) {
	if slices.ContainsFunc(impls, func(m *impl) bool { return m.Name == isa.Name }) {
		panic("kernels: ISA " + isa.Name + " registered twice")
	}
	impls = append(impls, &impl{ISA: isa, available: available, bf16: available && bf16 && isa.BF16 && k.bf16Dot != nil, asm: k})
}

// impl returns isa's kernels. It panics if this build has none for isa
// or this CPU cannot run them: an ISA is never taken for another.
func (isa ISA) impl() *impl {
	for _, m := range impls {
		if ISA(m.Name) != isa {
			continue
		}
		if !m.available {
			panic(fmt.Sprintf("kernels: ISA %s: this CPU cannot run it (it offers %v)", isa, Available()))
		}
		return m
	}
	panic(fmt.Sprintf("kernels: unknown ISA %q: this build has kernels for %v", isa, registered()))
}

// registered lists the ISAs this build has kernels for, slowest first.
func registered() []ISA {
	var all []ISA
	for _, m := range impls {
		all = append(all, ISA(m.Name))
	}
	return all
}

// Available lists the ISAs this CPU and build can run, slowest first.
func Available() []ISA {
	var have []ISA
	for _, m := range impls {
		if m.available {
			have = append(have, ISA(m.Name))
		}
	}
	return have
}

// preferred is the ISA Prefer chose, or nil for the fastest.
var preferred atomic.Pointer[ISA]

// Prefer sets the ISA that Select returns, for the whole process; ""
// chooses the fastest available. It returns an error, and changes
// nothing, if this CPU or build cannot run want. Commands pass NETC_ISA
// here.
func Prefer(want ISA) error {
	if want == "" {
		preferred.Store(nil)
		return nil
	}
	if !slices.Contains(Available(), want) {
		return fmt.Errorf("%q is not available: this CPU and build offer %v", string(want), Available())
	}
	preferred.Store(&want)
	return nil
}

// Select returns the ISA the kernels use: the one Prefer chose, else the
// fastest this CPU and build offer. The error is always nil (the Go
// kernels are always available); it is there for callers that pass the
// choice on.
func Select() (ISA, error) {
	if p := preferred.Load(); p != nil {
		return *p, nil
	}
	have := Available()
	return have[len(have)-1], nil
}
