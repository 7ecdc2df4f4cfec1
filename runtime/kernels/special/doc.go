// Package special holds forward kernels specialized by asm.ModelKernels
// to a list of ResNet shapes, as a compiled model carries them, for the
// tests and benchmarks that compare them with the general kernels.
package special

//go:generate go run ./gen
