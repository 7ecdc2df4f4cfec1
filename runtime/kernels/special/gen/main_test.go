package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netc/netc/asm"
)

// The committed files are what asm.ModelKernels writes for shapes, the
// same on every run.
func TestGeneratedIsUpToDate(t *testing.T) {
	none := func(asm.ConvSpec) bool { return false }
	files, err := asm.ModelKernels("special", generatedBy, shapes, none)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join("..", name)); err != nil || string(got) != string(want) {
			t.Errorf("%s is stale (%v): run go generate ./runtime/kernels/special", name, err)
		}
	}
	if testing.Short() {
		return // the second generation below is slow under -race
	}
	again, err := asm.ModelKernels("special", generatedBy, shapes, none)
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if string(again[name]) != string(files[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}
