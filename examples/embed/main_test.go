package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/generated/mnistresnet"
)

// TestEmbeddedModelReadsDigits classifies MNIST test digits (the digit is
// in each file's name) with the embedded weights.
func TestEmbeddedModelReadsDigits(t *testing.T) {
	m, err := mnistresnet.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/digit*.png")
	if len(files) == 0 {
		t.Fatal("no test images")
	}
	for _, f := range files {
		class, p, err := classify(m, f)
		if err != nil {
			t.Fatal(err)
		}
		want := int(strings.TrimPrefix(filepath.Base(f), "digit")[0] - '0')
		if class != want || p < 0.5 {
			t.Errorf("%s: class %d with p = %.3f, want %d", f, class, p, want)
		}
	}
	if _, _, err := classify(m, "main.go"); err == nil {
		t.Error("classify(main.go) succeeded")
	}
}
