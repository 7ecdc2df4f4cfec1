package asm

import "github.com/mmcloughlin/avo/build"

// NormKernels generates the streaming kernels of normalization layers.
func NormKernels(ctx *build.Context, isa ISA) error { return nil }
