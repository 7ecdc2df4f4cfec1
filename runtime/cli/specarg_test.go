package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/spec"
)

// TestCompiledSpecArg checks that a model binary takes a SPEC file, as
// netc's command lines have it, only if it is its own network. netc used to drop every
// argument equal to the spec's path, a flag's value too (such as an --out
// of the same name).
func TestCompiledSpecArg(t *testing.T) {
	dir := t.TempDir()
	write := func(name, width string) string {
		p := filepath.Join(dir, name)
		text := "model tiny\ninput 3 8 8\nclasses 4\nstem cifar\nblock basic\nstages 1 1 1\nwidth " + width + "\nnorm bn\n"
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	same, other := write("same.spec", "8"), write("other.spec", "16")
	compiled, err := spec.ParseFile(write("compiled.spec", "8"))
	if err != nil {
		t.Fatal(err)
	}
	cm := Commands{Spec: compiled}
	if pos, err := cm.compiledSpecArg("train", []string{same}); err != nil || len(pos) != 0 {
		t.Errorf("own spec: %v, %v; want it dropped", pos, err)
	}
	if pos, err := cm.compiledSpecArg("train", []string{"RUN"}); err == nil {
		t.Errorf("a positional that is no spec: %v, nil; want an error", pos)
	}
	if pos, err := (Commands{}).compiledSpecArg("train", []string{same, "x"}); err != nil || !slices.Equal(pos, []string{same, "x"}) {
		t.Errorf("netc's own command: %v, %v; want the arguments unchanged", pos, err)
	}
	_, err = cm.compiledSpecArg("train", []string{other})
	if err == nil || !strings.Contains(err.Error(), "is not the spec this model was compiled from") {
		t.Errorf("another network's spec: %v", err)
	}
}
