// Package special is the library of specialized kernels: the forward
// convolution kernels that package asm specializes to a shape (see
// asm.Library), for every convolution of the standard specs (the
// ImageNet ResNets at 224×224, ResNet-20 for CIFAR at 32×32). A compiled
// model refers to the library's kernels for those shapes (the variables
// named by shape, C64H56W56K64R3S3Stride1Pad1) and carries only the
// shapes it lacks; Lookup finds them by shape.
package special

import (
	"slices"

	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/ref"
)

//go:generate go run ./gen

// Has reports whether the library has kernels for c's shape (its batch
// size aside), on any build.
func Has(c ref.Conv) bool {
	c.N = 0
	return slices.Contains(shapes, c)
}

// Lookup returns the library's kernels for c's shape (its batch size
// aside) on isa, to pass to kernels.ConvForwardSpecial, or nil if it has
// none (another shape, the generic ISA, a build without assembly).
func Lookup(isa kernels.ISA, c ref.Conv) *kernels.Special {
	c.N = 0
	i := slices.Index(shapes, c)
	if i < 0 || i >= len(byShape) {
		return nil
	}
	return byShape[i].For(isa)
}
