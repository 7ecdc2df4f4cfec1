package compiler

import (
	"testing"

	"github.com/netc/netc/spec"
)

// TestFusePreAct: in a Wide ResNet every norm computes the ReLU after it;
// on the attack path the stem's conv folds the first block's bn1 and
// relu1, each conv1 folds its block's bn2 and relu2, and the norm on a
// block's input (a residual sum, also the identity shortcut's operand),
// like the final bn, stays a norm with its ReLU.
func TestFusePreAct(t *testing.T) {
	for _, tc := range []struct {
		norm  spec.Norm
		folds bool
	}{{spec.Norm{Kind: spec.BN}, true}, {spec.Norm{Kind: spec.MBN}, true}, {spec.Norm{Kind: spec.GN, Groups: 8}, false}} {
		g, err := Lower(wrn(2, 2, tc.norm))
		if err != nil {
			t.Fatal(err)
		}
		f := Fuse(g)
		byName := map[string]*Node{}
		for _, nd := range g.Nodes {
			byName[nd.Name] = nd
		}
		for _, nd := range g.Nodes {
			if nd.Op == Norm && f.ReLUOf[nd.ID] == nil {
				t.Errorf("%s: norm %s does not compute its ReLU", tc.norm.Kind, nd.Name)
			}
		}
		want := map[string]string{} // conv → the ReLU it writes
		if tc.folds {
			want["conv1"] = "layer1.0.relu1"
			for _, blk := range []string{"layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1"} {
				want[blk+".conv1"] = blk + ".relu2"
			}
		}
		if len(f.Folds) != len(want) {
			t.Errorf("%s: %d folds, want %d", tc.norm.Kind, len(f.Folds), len(want))
		}
		for conv, relu := range want {
			fl := f.Folds[byName[conv].ID]
			if fl == nil || fl.Out != byName[relu] || !fl.ReLU || fl.Res != nil {
				t.Errorf("%s: %s folds %+v, want its norm and %s", tc.norm.Kind, conv, fl, relu)
			}
		}
		for _, name := range []string{"layer1.1.bn1", "layer2.0.bn1", "bn"} {
			if f.Folded[byName[name].ID] {
				t.Errorf("%s: %s is folded; no conv comes before it", tc.norm.Kind, name)
			}
		}
	}
}

// TestFuseAsksTheDescriptor: a norm folds into a conv only if its kind's
// descriptor says it may; a kind without one panics, naming it.
func TestFuseAsksTheDescriptor(t *testing.T) {
	g, err := Lower(wrn(1, 1, spec.Norm{Kind: spec.BN}))
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range g.NormLayers() {
		nd.Norm.Kind = 99
	}
	defer func() {
		if r := recover(); r != "spec: unknown norm kind 99" {
			t.Errorf("Fuse of an unknown norm: panic %v", r)
		}
	}()
	Fuse(g)
}
