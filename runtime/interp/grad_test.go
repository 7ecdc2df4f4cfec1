package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// tiny returns a small ResNet spec for gradient checks.
func tiny(stem spec.Stem, block spec.Block, norm spec.Norm) *spec.Spec {
	s := &spec.Spec{File: "tiny.spec", Model: "tiny", Classes: 3, Stem: stem, Block: block, Width: 4, Norm: norm,
		Mean: []float64{0.5, 0.4}, Std: []float64{0.25, 0.3}}
	switch block {
	case spec.Bottleneck:
		s.Width = 2
	case spec.PreAct: // a Wide ResNet: a 2-channel stem, stages of 4, 8, 16
		s.Width, s.Widen = 2, 2
	}
	if stem == spec.StemImageNet {
		s.Input = [3]int{2, 9, 8}
		s.Stages = []int{1, 1, 1, 1}
	} else {
		s.Input = [3]int{2, 6, 5}
		s.Stages = []int{1, 2, 1}
	}
	return s
}

// randomize gives every norm parameter and running statistic a random
// value so that no gradient is trivially zero (zero-init gammas would hide
// blocks).
func randomize(m *Net[float64], rng *rand.Rand) {
	for i, p := range m.g.Params {
		if p.Node.Op != compiler.Norm {
			continue // He init keeps activations at a sane scale
		}
		for j := range m.params[i] {
			v := rng.NormFloat64() * 0.3
			if strings.HasSuffix(p.Name, "weight") {
				v += 1
			}
			m.params[i][j] = v
		}
	}
	for _, ns := range m.norms {
		if ns == nil {
			continue
		}
		for br := 0; br < 2; br++ {
			for j := range ns.runMean[br] {
				ns.runMean[br][j] = rng.NormFloat64() * 0.3
				ns.runVar[br][j] = 0.5 + rng.Float64()
			}
		}
	}
}

// TestGradientsFiniteDifferences checks the input gradient and every
// parameter gradient of whole small ResNets against central differences
// of L = Σ logits·r, in float64.
func TestGradientsFiniteDifferences(t *testing.T) {
	bn, mbn, gn := spec.Norm{Kind: spec.BN}, spec.Norm{Kind: spec.MBN}, spec.Norm{Kind: spec.GN, Groups: 2}
	sharedStats, sharedAffine := spec.Norm{Kind: spec.MBN, Share: spec.ShareStats}, spec.Norm{Kind: spec.MBN, Share: spec.ShareAffine}
	type tc struct {
		s    *spec.Spec
		mode nn.Mode
		n    int
	}
	var cases []tc
	for _, stem := range []spec.Stem{spec.StemCIFAR, spec.StemImageNet} {
		for _, block := range []spec.Block{spec.Basic, spec.Bottleneck, spec.PreAct} {
			cases = append(cases,
				tc{tiny(stem, block, bn), nn.Mode{Norm: nn.BatchStats}, 3},
				tc{tiny(stem, block, bn), nn.Mode{Norm: nn.RunningStats}, 2},
				tc{tiny(stem, block, mbn), nn.Mode{Norm: nn.BatchStats, Split: 3}, 7},
				tc{tiny(stem, block, mbn), nn.Mode{Norm: nn.BatchStats, Branch: nn.Adv}, 3},
				tc{tiny(stem, block, mbn), nn.Mode{Norm: nn.RunningStats, Split: 1}, 3},
				tc{tiny(stem, block, gn), nn.Mode{Norm: nn.BatchStats}, 2},
				tc{tiny(stem, block, sharedStats), nn.Mode{Norm: nn.BatchStats, Split: 3}, 7},
				tc{tiny(stem, block, sharedStats), nn.Mode{Norm: nn.RunningStats, Split: 1}, 3},
				tc{tiny(stem, block, sharedAffine), nn.Mode{Norm: nn.BatchStats, Split: 2}, 6},
				tc{tiny(stem, block, sharedAffine), nn.Mode{Norm: nn.RunningStats, Split: 1}, 3},
			)
		}
	}
	// A mixed network: GN in the stem and stage 2, MBN elsewhere; and a
	// Wide ResNet with GN in stage 3 (its final norm too), MBN elsewhere.
	mixed := tiny(spec.StemCIFAR, spec.Basic, mbn)
	mixed.Overrides = []spec.NormOverride{{Norm: gn, Stages: []int{0, 2}}}
	mixedWide := tiny(spec.StemCIFAR, spec.PreAct, mbn)
	mixedWide.Overrides = []spec.NormOverride{{Norm: gn, Stages: []int{3}}}
	cases = append(cases, tc{mixed, nn.Mode{Norm: nn.BatchStats, Split: 1}, 3}, tc{mixedWide, nn.Mode{Norm: nn.BatchStats, Split: 2}, 4})

	for _, c := range cases {
		name := fmt.Sprintf("%s/%s/%s/share=%s/stats=%s/split=%d/branch=%s", c.s.Stem, c.s.Block, c.s.Norm.Kind, c.s.Norm.Share, c.mode.Norm, c.mode.Split, c.mode.Branch)
		t.Run(name, func(t *testing.T) {
			g, err := compiler.Lower(c.s)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			m := New[float64](g, rng)
			randomize(m, rng)
			x := make([]float64, c.n*g.Nodes[0].Size())
			for i := range x {
				x[i] = rng.Float64()
			}
			r := make([]float64, c.n*c.s.Classes)
			for i := range r {
				r[i] = rng.NormFloat64()
			}
			loss := func() float64 {
				y := m.Forward(x, c.n, c.mode)
				s := 0.0
				for i, v := range y {
					s += v * r[i]
				}
				return s
			}
			loss()
			m.Backward(r, nn.AllGrads)
			// Central differences at a few random elements of each tensor;
			// a small step keeps ReLU kinks out of reach.
			check := func(what string, v []float64, grad []float64, samples int) {
				t.Helper()
				got := append([]float64(nil), grad...)
				const h = 1e-7
				for _, i := range pick(rng, len(v), samples) {
					old := v[i]
					v[i] = old + h
					up := loss()
					v[i] = old - h
					down := loss()
					v[i] = old
					fd := (up - down) / (2 * h)
					if err := math.Abs(fd-got[i]) / math.Max(1, math.Abs(fd)+math.Abs(got[i])); err > 1e-6 {
						t.Errorf("%s[%d]: backward %.9g, finite differences %.9g", what, i, got[i], fd)
						return
					}
				}
			}
			check("input", x, m.InputGrad(), 24)
			grads := make([][]float64, len(m.grads))
			for i := range m.grads {
				grads[i] = append([]float64(nil), m.grads[i]...)
			}
			for i, p := range g.Params {
				check(p.Name, m.params[i], grads[i], 4)
			}
		})
	}
}

// TestInputOnlyMatchesAll checks that an attack's backward pass gives the
// same input gradient and leaves the parameter gradients alone.
func TestInputOnlyMatchesAll(t *testing.T) {
	g, err := compiler.Lower(tiny(spec.StemCIFAR, spec.Basic, spec.Norm{Kind: spec.BN}))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	m := New[float64](g, rng)
	randomize(m, rng)
	x := make([]float64, 2*g.Nodes[0].Size())
	for i := range x {
		x[i] = rng.Float64()
	}
	r := []float64{1, -2, 0.5, 0.3, 0.2, -1}
	mode := nn.Mode{Norm: nn.RunningStats}
	m.Forward(x, 2, mode)
	m.Backward(r, nn.AllGrads)
	all := append([]float64(nil), m.InputGrad()...)
	before := append([]float64(nil), m.grads[0]...)
	m.Forward(x, 2, mode)
	m.Backward(r, nn.InputOnly)
	for i, v := range m.InputGrad() {
		if v != all[i] {
			t.Fatalf("input gradient %d: %v with InputOnly, %v with AllGrads", i, v, all[i])
		}
	}
	for i, v := range m.grads[0] {
		if v != before[i] {
			t.Fatalf("InputOnly changed parameter gradient %d", i)
		}
	}
}

// pick returns up to k distinct random indices below n.
func pick(rng *rand.Rand, n, k int) []int {
	p := rng.Perm(n)
	return p[:min(k, n)]
}

// TestUnknownNormFailsLoudly: the reference interpreter panics, naming
// it, on a norm kind without a descriptor instead of running it as BN.
func TestUnknownNormFailsLoudly(t *testing.T) {
	g, err := compiler.Lower(tiny(spec.StemCIFAR, spec.PreAct, spec.Norm{Kind: spec.BN}))
	if err != nil {
		t.Fatal(err)
	}
	m := New[float64](g, rand.New(rand.NewPCG(1, 2)))
	for _, nd := range g.NormLayers() {
		nd.Norm.Kind = 9
	}
	defer func() {
		if r := recover(); r != "spec: unknown norm kind 9" {
			t.Errorf("Forward with an unknown norm: panic %v", r)
		}
	}()
	m.Forward(make([]float64, g.Nodes[0].Size()), 1, nn.Mode{Norm: nn.BatchStats})
}
