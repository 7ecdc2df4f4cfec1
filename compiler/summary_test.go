package compiler

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/netc/netc/spec"
)

// exactSummary is Summarize computed with unbounded integers, then
// saturated at math.MaxInt64: what Summarize must return.
func exactSummary(g *Graph, batch int) Summary {
	sat := func(x *big.Int) int64 {
		if !x.IsInt64() {
			return math.MaxInt64
		}
		return x.Int64()
	}
	num := func(v int) *big.Int { return big.NewInt(int64(v)) }
	mul := func(xs ...*big.Int) *big.Int {
		p := big.NewInt(1)
		for _, x := range xs {
			p.Mul(p, x)
		}
		return p
	}
	params, macs, act, saved := new(big.Int), new(big.Int), new(big.Int), new(big.Int)
	kept := map[*Node]bool{}
	for _, p := range g.Params {
		n := big.NewInt(1)
		for _, d := range p.Shape {
			n.Mul(n, num(d))
		}
		params.Add(params, n)
	}
	s := Summary{Model: g.Spec.Model, Nodes: len(g.Nodes), Batch: batch}
	for _, n := range g.Nodes {
		act.Add(act, mul(num(n.C), num(n.H), num(n.W)))
		if in := n.In; (n.Op == Conv || n.Op == Linear || n.Op == Norm) && !kept[in[0]] {
			kept[in[0]] = true
			saved.Add(saved, mul(num(in[0].C), num(in[0].H), num(in[0].W)))
		}
		switch n.Op {
		case Conv:
			s.Convs++
			macs.Add(macs, mul(num(n.C), num(n.In[0].C), num(n.Kernel), num(n.Kernel), num(n.H), num(n.W)))
		case Linear:
			macs.Add(macs, mul(num(n.C), num(n.In[0].C)))
		case Norm:
			s.Norms++
		}
	}
	actBytes := mul(big.NewInt(4), act, num(max(batch, 0)))
	savedBytes := mul(big.NewInt(4), saved, num(max(batch, 0)))
	train := new(big.Int).Add(mul(big.NewInt(12), params), mul(big.NewInt(2), actBytes))
	minTrain := new(big.Int).Add(mul(big.NewInt(12), params), savedBytes)
	s.Params, s.MACs, s.ActivationBytes, s.BackwardBytes = sat(params), sat(macs), sat(actBytes), sat(savedBytes)
	s.TrainBytes, s.MinTrainBytes = sat(train), sat(minTrain)
	return s
}

// checkSummary checks Summarize(batch) against the exact counts.
func checkSummary(t *testing.T, g *Graph, batch int) Summary {
	t.Helper()
	got, want := g.Summarize(batch), exactSummary(g, batch)
	if got != want {
		t.Fatalf("Summarize(%d) =\n%+v\nwant (exact, saturated)\n%+v", batch, got, want)
	}
	for _, v := range []int64{got.Params, got.MACs, got.ActivationBytes, got.BackwardBytes, got.TrainBytes, got.MinTrainBytes} {
		if v < 0 {
			t.Fatalf("negative count in %+v", got)
		}
	}
	if got.BackwardBytes > got.ActivationBytes || got.MinTrainBytes > got.TrainBytes {
		t.Fatalf("the least a step needs exceeds what the interpreter holds: %+v", got)
	}
	return got
}

// boundSpecs are specs at the limits of package spec: their counts
// overflow an int64 unless they saturate.
var boundSpecs = []string{
	// The widest, deepest network at the largest input: stage 1 alone has
	// 1024 bottleneck blocks of 16,384 channels at 8192x8192.
	fmt.Sprintf("model huge\ninput %d %d %d\nclasses %d\nstem cifar\nblock bottleneck\nstages %d %d %d\nwidth %d\nnorm mbn\n",
		spec.MaxInputChannels, spec.MaxInputSize, spec.MaxInputSize, spec.MaxClasses, spec.MaxBlocks, spec.MaxBlocks, spec.MaxBlocks, spec.MaxWidth),
	fmt.Sprintf("model wide\ninput 3 224 224\nclasses %d\nstem imagenet\nblock bottleneck\nstages %d %d %d %d\nwidth %d\nnorm gn groups=%d\n",
		spec.MaxClasses, spec.MaxBlocks, spec.MaxBlocks, spec.MaxBlocks, spec.MaxBlocks, spec.MaxWidth, spec.MaxWidth),
	// The issue's spec at the widest width allowed.
	fmt.Sprintf("model w\ninput 3 32 32\nclasses 10\nstem cifar\nblock basic\nstages 1 1 1\nwidth %d\n", spec.MaxWidth),
}

func TestSummarizeAtBounds(t *testing.T) {
	for i, src := range boundSpecs {
		s, err := spec.Parse("bound.spec", []byte(src))
		if err != nil {
			t.Fatalf("spec %d: %v", i, err)
		}
		g, err := Lower(s)
		if err != nil {
			t.Fatalf("spec %d: %v", i, err)
		}
		for _, batch := range []int{-1, 0, 1, 32, 1 << 20, math.MaxInt} {
			checkSummary(t, g, batch)
		}
		if i == 0 {
			if sum := g.Summarize(1); sum.MACs != math.MaxInt64 || sum.Params >= math.MaxInt64 {
				t.Errorf("spec 0: MACs %d (want saturated), params %d (want exact)", sum.MACs, sum.Params)
			}
		}
		if sum := g.Summarize(math.MaxInt); sum.TrainBytes != math.MaxInt64 {
			t.Errorf("spec %d: train bytes %d at the largest batch, want saturated", i, sum.TrainBytes)
		}
	}
}

// TestIssueWidth is the issue's spec, width 1048576 (327 trillion
// parameters), which passed netc check: spec now refuses the width, and
// lowered from specs built in code, wider still, the counts saturate where
// they used to wrap.
func TestIssueWidth(t *testing.T) {
	src := "model huge\ninput 3 32 32\nclasses 10\nstem cifar\nblock basic\nstages 1 1 1\nwidth 1048576\n"
	if _, err := spec.Parse("huge.spec", []byte(src)); err == nil || !strings.Contains(err.Error(), "width must be between 1 and 4096") {
		t.Errorf("Parse: %v, want the width refused", err)
	}
	s, err := spec.Parse("huge.spec", []byte(strings.Replace(src, "1048576", "16", 1)))
	if err != nil {
		t.Fatal(err)
	}
	s.Width = 1 << 20
	for _, w := range []int{1 << 20, 1 << 40} {
		s.Width = w
		g, err := Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		checkSummary(t, g, 32)
	}
}
