// Package abi is the contract between netc's kernel generators (package
// asm, which writes the assembly) and the runtime that calls the kernels
// (package runtime/kernels): the instruction sets and their register
// and tile tables, the outer kernels' argument block with its field
// offsets, their shapes and epilogue flags, and the row plans of the
// forward convolution. It imports only the standard library, so that
// nothing a model binary links pulls in a generator.
//
// Code generated against this package references Version1 (the constant
// named after Version): when the contract changes, Version goes up and
// the constant is renamed, so that kernels generated for the old one no
// longer compile.
//
// # The outer kernel
//
// The convolutions of netc (forward, data gradient, weight gradient, and
// the stem on plain NCHW input) are all one micro-kernel, the outer
// kernel: it keeps an R×V tile of C in registers, R rows of V vectors,
// and adds to it, step by step, the outer product of R values of A (each
// broadcast to a vector) and V vectors of B:
//
//	C[r][v] += A[r·ARow] · B[v]   for every step of four nested loops
//
// after which A and B move on by run-time strides (OuterArgs.Loops). The
// meaning of rows and steps is up to the caller: for a forward
// convolution on NCHW16c tensors the rows are R output pixels (A = input
// pixels, ARow = 64 bytes, one pixel of 16 channels), the V vectors are 8
// or 16 output channels of a blocked weight tensor, and the steps run
// over input channels and kernel taps; for the weight gradient the rows
// are 16 input channels (ARow = 4 bytes) and the steps run over output
// pixels.
//
// Vectors of B, C and the residual come from 16-channel blocks: vector v
// lies in block v/(16/Lanes) at offset v%(16/Lanes) vectors; consecutive
// blocks are BBlock (for B) or CBlock (for C and the residual) bytes
// apart.
//
// A kernel runs Tiles tiles (at least one) one after the other, each with
// the same B, Bias, Sum and Sq, A moving on TileA bytes and C and Res
// TileC bytes per tile; it leaves A, C and Res at the last tile and Tiles
// at zero. After the loops it applies the epilogue of Flags (Load, Bias,
// Residual, ReLU, Stats, in this order) and stores the tile to C.
//
// Kernels specialized to one convolution (asm.ModelKernels) have some
// fields of the block as immediates: for a given convolution most fields
// are the same in every call of the forward driver. They run exactly the
// general kernels' arithmetic, in the same order, so their results are
// bitwise the same; the runtime checks every call's argument block
// against the fields a kernel fixed (Field).
//
// # Streaming kernels
//
// The streaming kernels of normalization layers work on one block-plane
// of an NCHW16c tensor per call: pixels × 16 channels, 64 bytes a pixel,
// one zmm or two ymm registers. Per-channel coefficients point at the
// block's 16 channels of a plain vector. The flat kernels (ReLU backward,
// add) see their operands as rows of 16 floats in the same way. Every
// kernel handles any number of pixels ≥ 1: a loop of ISA.NormUnroll (or
// NormStreamUnroll) pixels, then one pixel at a time.
package abi
