package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/generated/mnistresnet"
)

// TestEmbeddedModelReadsDigits classifies MNIST test digits (the digit is
// in each file's name) with the embedded weights; a file that is no
// image is reported, and the others still classified.
func TestEmbeddedModelReadsDigits(t *testing.T) {
	m, err := mnistresnet.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/digit*.png")
	if len(files) == 0 {
		t.Fatal("no test images")
	}
	results, errs := classify(m, append(files, "main.go"))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "main.go") {
		t.Errorf("errors %v, want one about main.go", errs)
	}
	if len(results) != len(files) {
		t.Fatalf("%d results for %d images", len(results), len(files))
	}
	for i, r := range results {
		want := int(strings.TrimPrefix(filepath.Base(files[i]), "digit")[0] - '0')
		if r.path != files[i] || r.class != want || r.p < 0.5 {
			t.Errorf("%s: class %d with p = %.3f, want %s: %d", r.path, r.class, r.p, files[i], want)
		}
	}
}
