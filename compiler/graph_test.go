package compiler

import (
	"math/rand/v2"
	"testing"

	"github.com/netc/netc/spec"
)

func imagenet(stages []int, block spec.Block, norm spec.Norm) *spec.Spec {
	return &spec.Spec{File: "t.spec", Model: "t", Input: [3]int{3, 224, 224}, Classes: 1000,
		Stem: spec.StemImageNet, Block: block, Stages: stages, Width: 64, Norm: norm}
}

// The counts torchvision reports for its ResNets (parameters) and the
// standard multiply-add counts.
func TestCountsMatchTorchvision(t *testing.T) {
	bn := spec.Norm{Kind: spec.BN}
	for _, tc := range []struct {
		name         string
		s            *spec.Spec
		params, macs int64
	}{
		{"resnet18", imagenet([]int{2, 2, 2, 2}, spec.Basic, bn), 11689512, 1814073344},
		{"resnet34", imagenet([]int{3, 4, 6, 3}, spec.Basic, bn), 21797672, 3663761408},
		{"resnet50", imagenet([]int{3, 4, 6, 3}, spec.Bottleneck, bn), 25557032, 4089184256},
		{"resnet101", imagenet([]int{3, 4, 23, 3}, spec.Bottleneck, bn), 44549160, 0},
		{"resnet152", imagenet([]int{3, 8, 36, 3}, spec.Bottleneck, bn), 60192808, 0},
	} {
		g, err := Lower(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		sum := g.Summarize(1)
		if sum.Params != tc.params {
			t.Errorf("%s: %d params, want %d", tc.name, sum.Params, tc.params)
		}
		if tc.macs != 0 && sum.MACs != tc.macs {
			t.Errorf("%s: %d MACs, want %d", tc.name, sum.MACs, tc.macs)
		}
	}
}

func TestMBNDoublesNormParams(t *testing.T) {
	bn, err := Lower(imagenet([]int{3, 4, 6, 3}, spec.Bottleneck, spec.Norm{Kind: spec.BN}))
	if err != nil {
		t.Fatal(err)
	}
	mbn, err := Lower(imagenet([]int{3, 4, 6, 3}, spec.Bottleneck, spec.Norm{Kind: spec.MBN}))
	if err != nil {
		t.Fatal(err)
	}
	var normParams int64
	for _, p := range bn.Params {
		if p.Node.Op == Norm {
			normParams += int64(p.Size())
		}
	}
	if got, want := mbn.Summarize(1).Params, bn.Summarize(1).Params+normParams; got != want {
		t.Errorf("MBN params %d, want %d", got, want)
	}
	seen := map[string]bool{}
	for _, p := range mbn.Params {
		if seen[p.Name] {
			t.Errorf("duplicate parameter name %s", p.Name)
		}
		seen[p.Name] = true
	}
	if !seen["layer4.2.bn3.adv.weight"] || !seen["layer4.2.bn3.weight"] {
		t.Errorf("MBN parameter names missing; have e.g. %s", mbn.Params[1].Name)
	}
}

func TestCIFARShapes(t *testing.T) {
	s := &spec.Spec{File: "t.spec", Model: "t", Input: [3]int{3, 32, 32}, Classes: 10,
		Stem: spec.StemCIFAR, Block: spec.Basic, Stages: []int{3, 3, 3}, Width: 16, Norm: spec.Norm{Kind: spec.BN}}
	g, err := Lower(s)
	if err != nil {
		t.Fatal(err)
	}
	sum := g.Summarize(128)
	// ResNet-20 for CIFAR-10 with a 1x1-conv shortcut (option B): 272,474 + 2 shortcuts.
	if sum.Convs != 21 {
		t.Errorf("%d convs, want 19 + 2 shortcuts", sum.Convs)
	}
	pool := g.Nodes[len(g.Nodes)-2]
	if pool.Op != AvgPool || pool.In[0].H != 8 || pool.In[0].C != 64 {
		t.Errorf("last feature map %dx%dx%d, want 64x8x8", pool.In[0].C, pool.In[0].H, pool.In[0].W)
	}
}

func TestArenaSeparatesLiveBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var bufs []Live
	for range 300 {
		first := rng.IntN(100)
		bufs = append(bufs, Live{Size: 1 + rng.IntN(50), First: first, Last: first + rng.IntN(20)})
	}
	off, size := Arena(bufs)
	peak := 0 // the most floats live at one step: a lower bound on size
	for step := range 120 {
		live := 0
		for i, a := range bufs {
			if a.First <= step && step <= a.Last {
				live += a.Size
			}
			for j := range i {
				b := bufs[j]
				if a.First <= b.Last && b.First <= a.Last && off[i] < off[j]+b.Size && off[j] < off[i]+a.Size {
					t.Fatalf("buffers %d %+v at %d and %d %+v at %d share memory while both live", i, a, off[i], j, b, off[j])
				}
			}
		}
		peak = max(peak, live)
	}
	for i, a := range bufs {
		if off[i] < 0 || off[i]+a.Size > size {
			t.Fatalf("buffer %d at %d+%d outside the arena of %d", i, off[i], a.Size, size)
		}
	}
	if size > 2*peak {
		t.Errorf("arena of %d floats for a peak of %d live", size, peak)
	}
	t.Logf("arena %d floats, peak live %d, sum %d", size, peak, sumSizes(bufs))
}

func sumSizes(bufs []Live) int {
	s := 0
	for _, b := range bufs {
		s += b.Size
	}
	return s
}
