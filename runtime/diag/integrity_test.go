package diag

import (
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
)

// Adversarial batch statistics come from attacks that start at a random
// point of the ε-cube, as in evaluation, whatever the attack's
// CleanStart (training's 0.2): a clean start changes nothing.
func TestAdversarialStatsStartAtRandom(t *testing.T) {
	m, _ := tiny(t, 4, "bn")
	test := data.Synthetic(8, 1, 8, 8, 3, 3)
	c := Config{Batches: 1, Batch: 8, Adversarial: true, Seed: 4, Attack: pgd.Config{Eps: 0.3, Step: 0.1, Steps: 2, Loss: pgd.Untargeted}}
	random, err := Collect(m, test, c)
	if err != nil {
		t.Fatal(err)
	}
	c.Attack.CleanStart = 1
	clean, err := Collect(m, test, c)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range random.Layers {
		if !slices.Equal(l.BatchMean, clean.Layers[i].BatchMean) || !slices.Equal(l.BatchVar, clean.Layers[i].BatchVar) {
			t.Fatalf("%s: a clean start changes the batch statistics", l.Layer)
		}
	}
}

// FirstNonFinite names the first layer, in execution order, whose
// output is not finite on the model's own weights, and says when none
// is.
func TestFirstNonFinite(t *testing.T) {
	for _, width := range []int{4, 16} { // ref's ops, the kernels
		m, g := tiny(t, width, "mbn")
		x := &nn.Tensor{Shape: []int{2, 1, 8, 8}, Data: make([]float32, 128)}
		for i := range x.Data {
			x.Data[i] = float32(i%7) / 7
		}
		mode := nn.Mode{Norm: nn.RunningStats, Branch: nn.Adv, InputOnly: true}
		got, err := FirstNonFinite(m, x, mode)
		if err != nil || !strings.Contains(got, "every layer's output is finite") {
			t.Errorf("width %d, finite weights: %q, %v", width, got, err)
		}
		// A running variance of -1 in the adversarial branch of the
		// second BN gives NaN there (and only through that branch).
		bn := g.NormLayers()[1]
		for _, st := range m.NormState() {
			if st.Name == bn.Name+".adv" {
				st.Var[2] = -1
			}
		}
		got, err = FirstNonFinite(m, x, mode)
		want := "the first layer whose output is not finite is " + bn.Name + " (norm, "
		if err != nil || !strings.Contains(got, want) || !strings.Contains(got, "channel 2: NaN") {
			t.Errorf("width %d: %q, %v; want %q", width, got, err, want)
		}
		mode.Branch = nn.Clean
		if got, _ := FirstNonFinite(m, x, mode); !strings.Contains(got, "every layer's output is finite") {
			t.Errorf("width %d, the clean branch: %q", width, got)
		}
		logits := m.Forward(x, nn.Mode{Norm: nn.RunningStats, Branch: nn.Adv})
		if nn.FirstNonFinite(logits.Data) < 0 {
			t.Errorf("width %d: the model's own logits are finite", width)
		}
	}
}
