package compiler

import (
	"fmt"
	"io/fs"
	"testing"

	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

// programSpecs are the specs in specs/ and small ones of every block and
// norm kind.
func programSpecs(t *testing.T) []*spec.Spec {
	names, err := fs.Glob(specs.FS, "*.spec")
	if err != nil || len(names) == 0 {
		t.Fatal("no specs", err)
	}
	var srcs []string
	for _, name := range names {
		b, err := specs.FS.ReadFile(name)
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
	var ss []*spec.Spec
	for _, src := range srcs {
		s, err := spec.Parse("t.spec", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	return ss
}

// TestArenaPlan checks the liveness plan of every program: two buffers
// that are live at the same call never share memory, every buffer is
// used, and the arena is smaller than all buffers side by side.
func TestArenaPlan(t *testing.T) {
	for _, s := range programSpecs(t) {
		g, err := Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, pass := range []Pass{TrainPass, AttackPass} {
			p := g.Program(pass)
			if p == nil {
				continue
			}
			sum := 0
			var arena []*Buffer
			for i, a := range p.Buffers {
				if a.ID != i || a.First < 0 || a.First > a.Last {
					t.Fatalf("%s %s: buffer %d: %+v", s.Model, pass, i, *a)
				}
				if a.External != InArena {
					continue
				}
				sum += a.Size
				for _, b := range arena {
					if a.First <= b.Last && b.First <= a.Last && a.Offset < b.Offset+b.Size && b.Offset < a.Offset+a.Size {
						t.Fatalf("%s %s: buffers %+v and %+v overlap while both live", s.Model, pass, *a, *b)
					}
				}
				if a.Offset < 0 || a.Offset+a.Size > p.ArenaSize {
					t.Fatalf("%s %s: buffer %+v outside the arena of %d", s.Model, pass, *a, p.ArenaSize)
				}
				arena = append(arena, a)
			}
			if p.ArenaSize >= sum {
				t.Errorf("%s %s: arena of %d floats per image for buffers of %d in all", s.Model, pass, p.ArenaSize, sum)
			}
		}
	}
}

// TestArenaBetweenMemoryBounds: a training arena holds at least what
// Summary's BackwardBytes says a backward pass needs (the bound train
// and eval refuse a step by, so they never refuse one the kernels could
// run) and less than every activation and its gradient side by side.
func TestArenaBetweenMemoryBounds(t *testing.T) {
	for _, s := range programSpecs(t) {
		g, err := Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		if Supported(g, 16) != nil {
			continue
		}
		arena := int64(4 * g.Program(TrainPass).ArenaSize)
		sum := g.Summarize(1)
		if arena < sum.BackwardBytes || arena > 2*sum.ActivationBytes {
			t.Errorf("%s %s %s: arena of %d bytes per image outside %d (backward) to %d (all side by side)",
				s.Model, s.Block, s.Norm.Kind, arena, sum.BackwardBytes, 2*sum.ActivationBytes)
		}
	}
}

// TestProgramShape checks what the passes promise: the attack pass
// computes no parameter gradient and folds every fold Fuse finds; the
// train pass marks every parameter's gradient final exactly once, after
// its layer's backward; each call's block is its node's.
func TestProgramShape(t *testing.T) {
	for _, s := range programSpecs(t) {
		g, err := Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		train := g.Program(TrainPass)
		final := map[*Param]int{}
		for _, c := range train.Calls() {
			if c.Op == FoldedConv || c.Op == FoldedConvBackward {
				t.Fatalf("%s: train pass folds: %v", s.Model, c.Op)
			}
			if c.Stage != c.Node.Stage || c.Block != c.Node.Block {
				t.Fatalf("%s: call %v of %s in block %d.%d", s.Model, c.Op, c.Node.Name, c.Stage, c.Block)
			}
			for _, p := range c.Final {
				final[p]++
			}
		}
		for _, p := range g.Params {
			if final[p] != 1 {
				t.Fatalf("%s: gradient of %s final %d times", s.Model, p.Name, final[p])
			}
		}
		attack := g.Program(AttackPass)
		if folds := len(Fuse(g).Folds); (attack != nil) != (folds > 0) {
			t.Fatalf("%s: %d folds, attack program %v", s.Model, folds, attack != nil)
		} else if attack == nil {
			continue
		}
		n := 0
		for _, c := range attack.Calls() {
			switch c.Op {
			case FoldedConv:
				n++
			case ConvOp, ConvBackward:
				if _, ok := Fuse(g).Folds[c.Node.ID]; ok {
					t.Fatalf("%s: %s not folded on the attack pass", s.Model, c.Node.Name)
				}
			}
			if len(c.Final) > 0 {
				t.Fatalf("%s: attack pass finalizes parameter gradients", s.Model)
			}
		}
		if n != len(Fuse(g).Folds) {
			t.Fatalf("%s: %d folded convs, Fuse finds %d", s.Model, n, len(Fuse(g).Folds))
		}
	}
}
