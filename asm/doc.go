// Package asm holds netc's avo generators: Go functions that write the
// assembly of netc's kernels, and the Go tables that go with it. Each
// generator is written once and parameterized by an ISA descriptor of
// package abi (AVX2+FMA with 16 ymm registers, AVX-512F with 32 zmm), so
// both instruction sets come from the same code; an ISA whose registers
// the generators do not know is refused. Register plans are explicit
// data, checked when the code is generated. What the kernels compute and
// how they are called (the argument block, the epilogue flags, the tile
// tables) is package abi, which the runtime shares; every declaration
// written carries //go:noescape, and the Go files reference abi's
// version, so stale kernels fail to compile.
//
// RuntimeFiles writes the shape-generic kernels of runtime/kernels.
//
// # Specialized kernels
//
// The runtime's forward convolution (runtime/kernels) covers each row of
// output pixels with the calls of abi.RowPlan, each call one outer kernel
// run over one tile per output row of a chunk of rows; for a given
// convolution most fields of the argument block are then the same in
// every call: the number of input channel blocks, every stride but the
// tap rows', the distances between blocks and between tiles. For a
// convolution shape and each ISA, the specialized kernels are outer
// kernels that have those fields as immediates (ConvSpec.ForwardFixed),
// one for each tile height RowPlan uses, and, for short tiles, kernels
// that compute several tiles (of consecutive output rows) in one pass to
// keep more accumulators busy. They run exactly the general kernels'
// arithmetic, in the same order, so their results are bitwise the same;
// the runtime checks every call's argument block against the fields a
// kernel fixed. Library writes them for the standard shapes into the
// library package (runtime/kernels/special); ModelKernels writes a
// model's shapes that the library lacks into the model's package.
package asm
