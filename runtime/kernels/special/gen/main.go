// Command gen writes package special's kernels with asm.ModelKernels:
// the forward kernels specialized to the shapes below, as a compiled
// model would carry them. Run it with go generate; its test checks the
// files are up to date.
package main

import (
	"log"
	"os"

	"github.com/netc/netc/asm"
)

// shapes are ResNet-20 (CIFAR) and ResNet-50 shapes: widths 7 to 56,
// channels 16 to 2048, 1×1 and 3×3, stride 1 and 2, a stem (no
// kernels) and a repeated shape (shared kernels).
var shapes = []asm.ConvSpec{
	{C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, Stride: 1, Pad: 1},   // ResNet-20 stage 1
	{C: 32, H: 16, W: 16, K: 32, R: 3, S: 3, Stride: 1, Pad: 1},   // ResNet-20 stage 2
	{C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, Stride: 1, Pad: 1},     // ResNet-20 stage 3
	{C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, Stride: 2, Pad: 1},   // ResNet-20 stage 2, first
	{C: 64, H: 56, W: 56, K: 64, R: 3, S: 3, Stride: 1, Pad: 1},   // ResNet-50 layer1 conv2
	{C: 64, H: 56, W: 56, K: 256, R: 1, S: 1, Stride: 1, Pad: 0},  // layer1 conv3
	{C: 256, H: 56, W: 56, K: 512, R: 1, S: 1, Stride: 2, Pad: 0}, // layer2.0 downsample
	{C: 128, H: 28, W: 28, K: 128, R: 3, S: 3, Stride: 1, Pad: 1}, // layer2 conv2
	{C: 256, H: 14, W: 14, K: 256, R: 3, S: 3, Stride: 1, Pad: 1}, // layer3 conv2
	{C: 512, H: 7, W: 7, K: 512, R: 3, S: 3, Stride: 1, Pad: 1},   // layer4 conv2
	{C: 2048, H: 7, W: 7, K: 512, R: 1, S: 1, Stride: 1, Pad: 0},  // layer4 conv1
	{C: 3, H: 32, W: 32, K: 16, R: 3, S: 3, Stride: 1, Pad: 1},    // CIFAR stem: no kernels
	{C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, Stride: 1, Pad: 1},   // shape 0 again
}

// generatedBy is the command go generate runs, for the files' header.
const generatedBy = "go run ./gen"

func main() {
	log.SetFlags(0)
	log.SetPrefix("special/gen: ")
	files, err := asm.ModelKernels("special", generatedBy, shapes, func(asm.ConvSpec) bool { return false })
	if err != nil {
		log.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
