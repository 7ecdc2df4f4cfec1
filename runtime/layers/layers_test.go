package layers

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// TestSameWeightsReusesFolding checks that a conv reuses its packed and
// folded weights exactly when the pass promises the weights did not
// change (Mode.SameWeights).
func TestSameWeightsReusesFolding(t *testing.T) {
	isa, err := kernels.Select()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(v []float32) {
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
	}
	const n, c, hw = 2, 16, 8
	conv := Conv{C: c, H: hw, W: hw, K: c, R: 3, Stride: 1, Pad: 1, Weight: make([]float32, c*c*9)}
	bn := Norm{Kind: spec.BN, C: c, HW: hw * hw}
	var ps Params
	ps.Norm("bn", &bn, false)
	fill(bn.Weight[0])
	fill(conv.Weight)
	x := make([]float32, n*c*hw*hw)
	fill(x)
	run := func(same bool) []float32 {
		y := make([]float32, len(x))
		p := &Pass{ISA: isa, N: n, Mode: nn.Mode{Norm: nn.RunningStats, InputOnly: true, SameWeights: same}}
		conv.FoldedForward(p, x, &bn, nil, y, true)
		return y
	}
	first := run(false)
	fill(conv.Weight)
	bn.RunMean[0][3] = 0.5
	if !slices.Equal(run(true), first) {
		t.Error("SameWeights: the folded weights were recomputed")
	}
	changed := run(false)
	if slices.Equal(changed, first) {
		t.Error("new weights without SameWeights: the old folded weights were used")
	}
	if !slices.Equal(run(true), changed) {
		t.Error("SameWeights after new weights: not the new folded weights")
	}
	p := &Pass{ISA: isa, N: n, Mode: nn.Mode{Norm: nn.RunningStats, InputOnly: true, SameWeights: true}}
	y := make([]float32, len(x))
	conv.Forward(p, x, y) // never packed: must pack despite SameWeights
	fill(conv.Weight)
	y2 := make([]float32, len(x))
	conv.Forward(p, x, y2)
	if !slices.Equal(y, y2) {
		t.Error("SameWeights: the packed weights were recomputed")
	}
}

// TestUnknownNormFailsLoudly: a norm layer of a kind without a
// descriptor panics, naming it, instead of running as BN.
func TestUnknownNormFailsLoudly(t *testing.T) {
	isa, err := kernels.Select()
	if err != nil {
		t.Fatal(err)
	}
	const c, hw = 16, 4
	for _, tt := range []struct {
		what string
		f    func(b *Norm)
	}{
		{"Forward", func(b *Norm) {
			b.Forward(&Pass{ISA: isa, N: 1, Mode: nn.Mode{Norm: nn.BatchStats}}, make([]float32, c*hw), make([]float32, c*hw), false)
		}},
		{"Params.Norm", func(b *Norm) { new(Params).Norm("bn", b, false) }},
	} {
		func() {
			defer func() {
				if r := recover(); r != "spec: unknown norm kind 9" {
					t.Errorf("%s of an unknown norm: panic %v", tt.what, r)
				}
			}()
			tt.f(&Norm{Kind: 9, C: c, HW: hw})
		}()
	}
}
