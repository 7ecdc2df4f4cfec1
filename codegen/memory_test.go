package codegen

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/spec"
)

// TestArenaBetweenMemoryBounds: a compiled model's training arena holds
// at least what compiler.Summary's BackwardBytes says a backward pass
// needs (the bound train and eval refuse a step by, so they never refuse
// one a compiled model could run) and less than the interpreter's
// activations and their gradients.
func TestArenaBetweenMemoryBounds(t *testing.T) {
	files, _ := filepath.Glob("../specs/*.spec")
	var srcs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, string(b))
	}
	for _, norm := range []string{"none", "bn", "mbn", "mbn share=stats", "gn groups=4"} {
		for _, block := range []string{"basic", "bottleneck"} {
			srcs = append(srcs,
				fmt.Sprintf("model m\ninput 3 16 16\nclasses 10\nstem cifar\nblock %s\nstages 2 1 1\nwidth 16\nnorm %s\n", block, norm),
				fmt.Sprintf("model m\ninput 1 40 40\nclasses 10\nstem imagenet\nblock %s\nstages 1 1 1 1\nwidth 16\nnorm %s\n", block, norm))
		}
	}
	for _, src := range srcs {
		s, err := spec.Parse("t.spec", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g, err := compiler.Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		if supported(g) != nil {
			continue
		}
		arena := int64(4 * newBuilder(g, false).build().size)
		sum := g.Summarize(1)
		if arena < sum.BackwardBytes || arena > 2*sum.ActivationBytes {
			t.Errorf("%s %s %s: arena of %d bytes per image outside %d (backward) to %d (interpreter)",
				s.Model, s.Block, s.Norm.Kind, arena, sum.BackwardBytes, 2*sum.ActivationBytes)
		}
		t.Logf("%s %s %s: arena %.3f x backward bytes", s.Model, s.Block, s.Norm.Kind, float64(arena)/float64(sum.BackwardBytes))
	}
}
