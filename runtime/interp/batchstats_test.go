package interp

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// BatchStats reports, per branch, what the last Forward normalized with:
// nothing for running statistics or an unused MBN branch, both branches
// of a split batch, each equal to a Forward of its part alone. On the
// kernels (width 16) and on ref's ops (width 4).
func TestBatchStatsBranches(t *testing.T) {
	for _, width := range []int{4, 16} {
		s := tiny(spec.StemCIFAR, spec.Basic, spec.Norm{Kind: spec.MBN})
		s.Width = width
		m, err := NewModel(s, 3)
		if err != nil {
			t.Fatal(err)
		}
		if isa, _ := kernels.Select(); width == 16 && isa != kernels.Generic && m.fast == nil {
			t.Fatal("width 16 should run on the kernels")
		}
		rng := rand.New(rand.NewPCG(1, 2))
		x := nn.NewTensor(6, s.Input[0], s.Input[1], s.Input[2])
		for i := range x.Data {
			x.Data[i] = float32(rng.Float64())
		}
		used := func(what string, want func(name string) bool) []*nn.NormStats {
			t.Helper()
			got := m.BatchStats()
			if len(got) != len(m.NormState()) {
				t.Fatalf("width %d %s: %d entries, NormState has %d", width, what, len(got), len(m.NormState()))
			}
			for i, st := range got {
				if st.Name != m.NormState()[i].Name {
					t.Fatalf("width %d %s: entry %d is %s, NormState's %s", width, what, i, st.Name, m.NormState()[i].Name)
				}
				if has := st.Mean != nil && st.Var != nil; has != want(st.Name) {
					t.Errorf("width %d %s: %s has batch statistics: %v", width, what, st.Name, has)
				}
			}
			return got
		}
		none := func(string) bool { return false }
		isAdv := func(name string) bool { return strings.HasSuffix(name, ".adv") }
		used("before any Forward", none)
		m.Forward(x, nn.Mode{Norm: nn.RunningStats})
		used("running statistics", none)
		m.Forward(x, nn.Mode{Norm: nn.BatchStats, Branch: nn.Adv})
		used("adversarial branch", isAdv)
		m.Forward(x, nn.Mode{Norm: nn.BatchStats, Split: 6})
		used("split = n", func(name string) bool { return !isAdv(name) })
		m.Forward(x, nn.Mode{Norm: nn.BatchStats, Split: 2})
		split := used("split", func(string) bool { return true })

		split[0].Mean[0] = 42 // a copy
		if m.BatchStats()[0].Mean[0] == 42 {
			t.Errorf("width %d: BatchStats returns the model's buffers", width)
		}
		per := map[string]*nn.NormStats{}
		clean := &nn.Tensor{Shape: []int{2, s.Input[0], s.Input[1], s.Input[2]}, Data: x.Data[:2*x.Len()/6]}
		m.Forward(clean, nn.Mode{Norm: nn.BatchStats, Branch: nn.Clean})
		for _, st := range m.BatchStats() {
			if !isAdv(st.Name) {
				per[st.Name] = st
			}
		}
		adv := &nn.Tensor{Shape: []int{4, s.Input[0], s.Input[1], s.Input[2]}, Data: x.Data[2*x.Len()/6:]}
		m.Forward(adv, nn.Mode{Norm: nn.BatchStats, Branch: nn.Adv})
		for _, st := range m.BatchStats() {
			if isAdv(st.Name) {
				per[st.Name] = st
			}
		}
		m.Forward(x, nn.Mode{Norm: nn.BatchStats, Split: 2})
		for _, st := range m.BatchStats() {
			want := per[st.Name]
			for ch := range st.Mean {
				if math.Abs(float64(st.Mean[ch]-want.Mean[ch])) > 1e-5 || math.Abs(float64(st.Var[ch]-want.Var[ch])) > 1e-5*(1+float64(want.Var[ch])) {
					t.Fatalf("width %d: %s channel %d of a split batch: %g %g, alone %g %g", width, st.Name, ch, st.Mean[ch], st.Var[ch], want.Mean[ch], want.Var[ch])
				}
			}
		}
	}
}
