package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netc/netc/asm"
)

// The committed files of package kernels are what the generators write
// today.
func TestGeneratedIsUpToDate(t *testing.T) {
	files, err := asm.RuntimeFiles("kernels", generatedBy)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale (%v): run go generate ./runtime/kernels", name, err)
		}
	}
}
