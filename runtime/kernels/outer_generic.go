//go:build purego || !amd64

package kernels

// outerKernels is empty without assembly: every tile runs outerGo.
var outerKernels = map[ISA][][][]func(*uintptr){}
