package compiler

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/netc/netc/spec"
)

// FuzzLower lowers every spec that parses: lowering never fails or
// panics on a valid spec, the counts are exact up to saturation
// (checkSummary), grow with the width and the batch, and agree with the
// graph.
func FuzzLower(f *testing.F) {
	files, _ := filepath.Glob("../specs/*.spec")
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, 32)
	}
	for _, src := range boundSpecs {
		f.Add([]byte(src), 1)
	}
	f.Add([]byte("model m\ninput 1 3 3\nclasses 2\nstem cifar\nblock basic\nstages 1 1 1\nwidth 1\nnorm none\nnorm gn groups=1 stage=2\n"), math.MaxInt)
	f.Add([]byte("model m\ninput 1 17 17\nclasses 2\nstem imagenet\nblock preact\nstages 1 2 1 1\nwidth 1\nwiden 3\nnorm mbn share=stats\nnorm none stage=2\nnorm gn groups=3 stage=4\n"), 3)
	f.Add([]byte("model m\ninput 3 8 8\nclasses 10\nstem cifar\nblock bottleneck\nstages 1 1 1\nwidth 4\nwiden 2\nnorm gn groups=4\n"), 2)
	f.Fuzz(func(t *testing.T, src []byte, batch int) {
		s, err := spec.Parse("f.spec", src)
		if err != nil {
			return
		}
		g, err := Lower(s)
		if err != nil {
			t.Fatalf("Lower of a valid spec: %v\n%s", err, src)
		}
		sum := checkSummary(t, g, batch)
		convs, norms := 0, 0
		for _, n := range g.Nodes {
			if n.H < 1 || n.W < 1 || n.C < 1 {
				t.Fatalf("node %s is %dx%dx%d", n.Name, n.C, n.H, n.W)
			}
			switch n.Op {
			case Conv:
				convs++
			case Norm:
				norms++
			}
		}
		if out := g.Output(); out.Op != Linear || out.C != s.Classes {
			t.Fatalf("output %s with %d values, want the linear layer's %d classes", out.Name, out.C, s.Classes)
		}
		if sum.Convs != convs || sum.Norms != norms || sum.Nodes != len(g.Nodes) || sum.Params <= 0 || sum.MACs <= 0 {
			t.Fatalf("summary %+v of %d nodes, %d convs, %d norms", sum, len(g.Nodes), convs, norms)
		}
		if batch >= 1 && (sum.BackwardBytes <= 0 || sum.MinTrainBytes < sum.BackwardBytes || sum.TrainBytes < sum.ActivationBytes) {
			t.Fatalf("summary %+v: no memory for a batch of %d", sum, batch)
		}
		if batch < math.MaxInt {
			if more := g.Summarize(batch + 1); more.ActivationBytes < sum.ActivationBytes || more.TrainBytes < sum.TrainBytes || more.MinTrainBytes < sum.MinTrainBytes {
				t.Fatalf("memory shrinks from batch %d to %d: %+v, then %+v", batch, batch+1, sum, more)
			}
		}
		// Twice the width: more parameters and multiply-adds (group norm
		// groups still divide every channel count).
		if s.Width*2 > spec.MaxWidth {
			return
		}
		wide := *s
		wide.Width *= 2
		gw, err := Lower(&wide)
		if err != nil {
			t.Fatalf("Lower at width %d: %v", wide.Width, err)
		}
		w := checkSummary(t, gw, batch)
		grows := func(a, b int64) bool { return b > a || b == math.MaxInt64 }
		if !grows(sum.Params, w.Params) || !grows(sum.MACs, w.MACs) || w.ActivationBytes < sum.ActivationBytes || w.TrainBytes < sum.TrainBytes || w.MinTrainBytes < sum.MinTrainBytes {
			t.Fatalf("width %d -> %d: %+v, then %+v", s.Width, wide.Width, sum, w)
		}
	})
}
