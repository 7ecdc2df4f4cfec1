package pgd

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netc/netc/runtime/nn"
)

// Trajectory visits the logits of every iterate, the start point and each
// step's result, in inference mode, and ends where Attack ends; under
// batch-statistics attacks it takes one more (inference) forward pass
// per iterate.
func TestTrajectoryVisitsEveryIterate(t *testing.T) {
	for _, norm := range []nn.NormMode{nn.RunningStats, nn.BatchStats} {
		m := newLinear(3, 4, rand.New(rand.NewPCG(1, 2)))
		x0 := &nn.Tensor{Shape: []int{2, 1, 2, 2}, Data: []float32{0.1, 0.5, 0.9, 0.3, 0.7, 0.2, 0.4, 0.6}}
		y := []int{0, 2}
		c := Config{Eps: 0.1, Step: 0.02, Steps: 4, Loss: Untargeted, Norm: norm, Branch: nn.Adv}
		want, _ := New(c, rand.New(rand.NewPCG(5, 6))).Attack(m, x0, y, 3)
		a := New(c, rand.New(rand.NewPCG(5, 6)))
		x := a.Start(x0)
		m.modes = nil
		var seen []int
		err := a.Trajectory(m, x, y, a.EffectiveStep(), c.Steps, func(s int, logits *nn.Tensor) error {
			seen = append(seen, s)
			if mode := m.modes[len(m.modes)-1]; mode.Norm != nn.RunningStats || mode.Branch != nn.Adv {
				t.Errorf("%s: iterate %d classified in mode %+v", norm, s, mode)
			}
			got := slices.Clone(logits.Data)
			// linear keeps nothing between passes but its input: a
			// forward pass here leaves the step's backward pass intact.
			if inference := m.Forward(x, a.Inference()).Data; !slices.Equal(got, inference) {
				t.Errorf("%s: iterate %d: logits %v, inference gives %v", norm, s, got, inference)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, []int{0, 1, 2, 3, 4}) {
			t.Errorf("%s: visited %v", norm, seen)
		}
		if !slices.Equal(x.Data, want.Data) {
			t.Errorf("%s: trajectory ends at %v, Attack at %v", norm, x.Data, want.Data)
		}
	}
}
