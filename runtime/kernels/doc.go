// Package kernels holds netc's fast kernels: assembly written by the
// generators of package asm (AVX2+FMA and AVX-512F), pure-Go fallbacks,
// and the choice between them for this CPU. Each instruction set's
// kernels register once (their table is generated with the assembly),
// described by package abi's ISA; an ISA this build has no kernels for
// makes every kernel panic rather than run another's. Prefer and Select
// choose the ISA for the process.
//
// # Convolutions
//
// The convolutions work on blocked tensors. An activation of n images, c
// channels and h×w pixels is stored NCHW16c: [n][c/16][h][w][16], so that
// one pixel's 16 channels are one (AVX-512) or two (AVX2) vectors. Only
// the network's input is plain NCHW, with any number of channels; the
// stem convolution reads it as it is.
//
// Weights of a convolution with k output and c input channels (c a
// multiple of 16) are packed [k/16][c/16][r][s][16 in][16 out]; a stem's
// [k/16][c][r][s][16 out]. Every convolution is a loop over tiles of the
// outer kernel (package abi): R output pixels × 16 or 32 output channels
// for the forward pass and the data gradient, 16 input channels (or stem
// taps) × output channels for the weight gradient. Work is split
// statically over images, channel groups and rows, so results do not
// depend on the thread count, except the forward pass's statistics, which
// add each thread's partial sums in thread order.
//
// # Normalization
//
// The streaming kernels of normalization layers work on NCHW16c activations:
// a tensor of n images, c channels (a multiple of Block) and hw pixels is
// stored [n][c/Block][hw][Block]. Per-channel vectors (scale, shift,
// sums) are plain: channel k at index k, or image i's channel k at i·c+k
// when they are per image. Work is split statically over images × channel
// blocks, each block-plane ([hw][Block]) done by one thread in one order,
// so every result is independent of the thread count.
//
// The reductions add pixels in float32 vectors for at most normChunk
// pixels at a time, then add the chunks' results in float64.
package kernels

//go:generate go run ./gen
