package compiler

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/spec"
)

func imagenet(stages []int, block spec.Block, norm spec.Norm) *spec.Spec {
	return &spec.Spec{File: "t.spec", Model: "t", Input: [3]int{3, 224, 224}, Classes: 1000,
		Stem: spec.StemImageNet, Block: block, Stages: stages, Width: 64, Norm: norm}
}

// widened returns s with widening factor k.
func widened(s *spec.Spec, k int) *spec.Spec {
	s.Widen = k
	return s
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
		{"wide_resnet50_2", widened(imagenet([]int{3, 4, 6, 3}, spec.Bottleneck, bn), 2), 68883240, 0},
		{"wide_resnet101_2", widened(imagenet([]int{3, 4, 23, 3}, spec.Bottleneck, bn), 2), 126886696, 0},
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

// wrn is a Wide ResNet for CIFAR-10: depth 6n+4, widening k.
func wrn(n, k int, norm spec.Norm) *spec.Spec {
	return &spec.Spec{File: "t.spec", Model: "t", Input: [3]int{3, 32, 32}, Classes: 10,
		Stem: spec.StemCIFAR, Block: spec.PreAct, Stages: []int{n, n, n}, Width: 16, Widen: k, Norm: norm}
}

// TestWideResNet checks the Wide ResNet's parameter count (WRN-28-10 has
// 36,479,194 in its PyTorch implementations; WRN-16-2's 691,674 is
// counted layer by layer), its layers and the torch-like names of its
// parameters.
func TestWideResNet(t *testing.T) {
	bn := spec.Norm{Kind: spec.BN}
	for _, tc := range []struct {
		name   string
		s      *spec.Spec
		params int64
	}{
		{"WRN-28-10", wrn(4, 10, bn), 36479194},
		{"WRN-16-2", wrn(2, 2, bn), 691674},
	} {
		g, err := Lower(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Summarize(1).Params; got != tc.params {
			t.Errorf("%s: %d params, want %d", tc.name, got, tc.params)
		}
	}

	g, err := Lower(wrn(2, 2, bn))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range g.Params {
		names = append(names, p.Name)
	}
	want := []string{"conv1.weight",
		"layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.conv1.weight", "layer1.0.bn2.weight", "layer1.0.bn2.bias",
		"layer1.0.conv2.weight", "layer1.0.downsample.0.weight",
		"layer1.1.bn1.weight", "layer1.1.bn1.bias", "layer1.1.conv1.weight", "layer1.1.bn2.weight", "layer1.1.bn2.bias", "layer1.1.conv2.weight"}
	if !slices.Equal(names[:len(want)], want) {
		t.Errorf("parameters\n%v\nwant them to start\n%v", names, want)
	}
	if tail := names[len(names)-4:]; !slices.Equal(tail, []string{"bn.weight", "bn.bias", "fc.weight", "fc.bias"}) {
		t.Errorf("last parameters %v, want the final bn and fc", tail)
	}
	for _, p := range g.Params {
		if p.Init == Zeros && strings.HasSuffix(p.Name, ".weight") {
			t.Errorf("%s starts at zero; a preact network's gammas start at 1", p.Name)
		}
	}
	// The stem is a conv alone; each stage's first block has a 1x1 conv
	// shortcut on its pre-activated input; no ReLU follows an add; a
	// final norm and ReLU come before pooling.
	byName := map[string]*Node{}
	for _, nd := range g.Nodes {
		byName[nd.Name] = nd
	}
	if bn1 := byName["layer1.0.bn1"]; bn1 == nil || bn1.In[0] != byName["conv1"] {
		t.Errorf("layer1.0.bn1 does not normalize the stem's conv")
	}
	for _, blk := range []string{"layer1.0", "layer2.0", "layer3.0"} {
		ds, relu := byName[blk+".downsample.0"], byName[blk+".relu1"]
		if ds == nil || ds.In[0] != relu || ds.Kernel != 1 {
			t.Errorf("%s: shortcut %+v, want a 1x1 conv of %s.relu1", blk, ds, blk)
		}
	}
	if add := byName["layer2.1.add"]; add.In[1] != byName["layer2.0.add"] {
		t.Errorf("layer2.1's shortcut is %s, want the identity", add.In[1].Name)
	}
	for _, nd := range g.Nodes {
		if nd.Op == ReLU && nd.In[0].Op == Add {
			t.Errorf("%s: a ReLU after a residual add", nd.Name)
		}
	}
	pool := g.Nodes[len(g.Nodes)-2]
	if pool.Op != AvgPool || pool.In[0] != byName["relu"] || byName["relu"].In[0] != byName["bn"] || byName["bn"].In[0] != byName["layer3.1.add"] {
		t.Errorf("the pooling does not follow the final bn and relu")
	}
	if c := byName["bn"].C; c != 128 {
		t.Errorf("the final bn has %d channels, want 128", c)
	}
}

// TestUnknownBlockFails: a block kind that the compiler cannot lower is
// an error naming it, not a basic block.
func TestUnknownBlockFails(t *testing.T) {
	s := wrn(1, 1, spec.Norm{Kind: spec.BN})
	s.Block = spec.Block(len(blockLowerings))
	if _, err := Lower(s); err == nil || !strings.Contains(err.Error(), "cannot lower block(3) blocks") {
		t.Errorf("Lower of an unknown block: %v", err)
	}
}
