// Command embed classifies handwritten digits with the adversarially
// trained MNIST ResNet that netc compiled, weights included, into package
// mnistresnet: nothing is read at run time but the images.
//
//	go run ./examples/embed examples/embed/testdata/digit7-test0.png
//
// Images are 28×28 PNGs, white digit on black as in MNIST.
package main

import (
	"fmt"
	"os"

	"github.com/netc/netc/generated/mnistresnet"
	"github.com/netc/netc/runtime/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: embed IMAGE.png...")
		os.Exit(2)
	}
	m, err := mnistresnet.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	status := 0
	for _, path := range os.Args[1:] {
		class, p, err := classify(m, path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "embed:", err)
			status = 2
			continue
		}
		fmt.Printf("%s: %d (p = %.3f)\n", path, class, p)
	}
	os.Exit(status)
}

// classify reads a digit image and returns the model's class and its
// probability.
func classify(m *mnistresnet.Model, path string) (int, float32, error) {
	img, err := cli.ReadImage(path, [3]int{mnistresnet.InputC, mnistresnet.InputH, mnistresnet.InputW})
	if err != nil {
		return 0, 0, err
	}
	class, probs := m.Predict(img)
	return class, probs[class], nil
}
