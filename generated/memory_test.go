package generated_test

import (
	"runtime"
	"testing"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/generated/internal/modelcheck"
	"github.com/netc/netc/generated/mnistresnet"
	"github.com/netc/netc/generated/resnet20cifar"
	"github.com/netc/netc/generated/resnet50"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
)

// TestInterpreterMemoryIsCompiled: the interpreter runs the compiled
// model's Program on the same arena, so its memory per image is the
// compiled model's. Measured on the heap, its first training step
// allocates at least that arena and less than a node-by-node
// interpreter's buffers (every node's output and gradient) would take.
func TestInterpreterMemoryIsCompiled(t *testing.T) {
	if isa, _ := kernels.Select(); isa == kernels.Generic {
		t.Skip("the interpreter runs the reference ops with generic kernels")
	}
	models := []modelcheck.New{modelcheck.Wrap(mnistresnet.New), modelcheck.Wrap(resnet20cifar.New), modelcheck.Wrap(resnet50.New)}
	for _, newModel := range models {
		c, err := newModel(1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := interp.NewModel(c.Spec(), 1)
		if err != nil {
			t.Fatal(err)
		}
		want := c.(nn.ArenaSizer).ArenaBytesPerImage()
		if got := m.ArenaBytesPerImage(); got != want {
			t.Errorf("%s: the interpreter's arena is %d bytes per image, the compiled model's %d", c.Spec().Model, got, want)
		}
		if c.Spec().Input[1] > 64 {
			continue // a training step at 224x224 is too slow for a test
		}
		const n = 8
		alloc := func(m nn.Model) int64 {
			s := m.Spec()
			x, dl := nn.NewTensor(n, s.Input[0], s.Input[1], s.Input[2]), nn.NewTensor(n, s.Classes)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m.Forward(x, nn.Mode{Norm: nn.BatchStats, UpdateStats: true})
			m.Backward(dl, nn.AllGrads)
			runtime.ReadMemStats(&after)
			return int64(after.TotalAlloc - before.TotalAlloc)
		}
		warm, err := newModel(2) // the kernels' scratch pools are the process's: fill them first
		if err != nil {
			t.Fatal(err)
		}
		alloc(warm)
		var nodes int64
		g, err := compiler.Lower(c.Spec())
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range g.Nodes {
			nodes += 2 * 4 * int64(nd.Size())
		}
		got, arena := alloc(m), n*m.ArenaBytesPerImage()
		t.Logf("%s: a first training step of %d images allocates %.1f MB on the interpreter; its arena is %.1f MB, every node's output and gradient %.1f MB",
			c.Spec().Model, n, float64(got)/1e6, float64(arena)/1e6, float64(n*nodes)/1e6)
		if got < arena || got >= n*nodes {
			t.Errorf("%s: a first training step of %d images allocates %d bytes, outside %d (the arena) to %d (every node's buffers)", c.Spec().Model, n, got, arena, n*nodes)
		}
	}
}
