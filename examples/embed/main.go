// Command embed classifies handwritten digits with the adversarially
// trained MNIST ResNet that netc compiled, weights included, into package
// mnistresnet: nothing is read at run time but the images.
//
//	go run ./examples/embed examples/embed/testdata/*.png
//
// Images are 28×28 PNGs, white digit on black as in MNIST. They are
// classified in one batched forward pass (PredictBatch); Predict does one
// image. Both are safe to call from many goroutines at once.
package main

import (
	"fmt"
	"os"

	"github.com/netc/netc/generated/mnistresnet"
	"github.com/netc/netc/runtime/data"
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
	results, errs := classify(m, os.Args[1:])
	status := 0
	for _, err := range errs {
		fmt.Fprintln(os.Stderr, "embed:", err)
		status = 2
	}
	for _, r := range results {
		fmt.Printf("%s: %d (p = %.3f)\n", r.path, r.class, r.p)
	}
	os.Exit(status)
}

// result is an image's class and its probability.
type result struct {
	path  string
	class int
	p     float32
}

// classify reads digit images and classifies those it could read in one
// PredictBatch call; errs are the images it could not read.
func classify(m *mnistresnet.Model, paths []string) (results []result, errs []error) {
	var imgs [][]float32
	for _, path := range paths {
		img, err := data.ReadImage(path, [3]int{mnistresnet.InputC, mnistresnet.InputH, mnistresnet.InputW})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		imgs = append(imgs, img)
		results = append(results, result{path: path})
	}
	classes, probs := m.PredictBatch(imgs)
	for i := range results {
		results[i].class, results[i].p = classes[i], probs[i][classes[i]]
	}
	return results, errs
}
