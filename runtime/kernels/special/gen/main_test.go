package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The committed files are what gen writes, the same on every run.
func TestGeneratedIsUpToDate(t *testing.T) {
	written, err := files("..")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range written {
		if got, err := os.ReadFile(filepath.Join("..", name)); err != nil || string(got) != string(want) {
			t.Errorf("%s is stale (%v): run go generate ./runtime/kernels/special", name, err)
		}
	}
	if testing.Short() {
		return // the second generation below is slow under -race
	}
	again, err := files("..")
	if err != nil {
		t.Fatal(err)
	}
	for name := range written {
		if string(again[name]) != string(written[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}
