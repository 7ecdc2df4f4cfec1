package experiments

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/eval"
)

// TestGridsAreSound checks every row of every grid: its spec parses, its
// training validates, the row it starts from comes earlier with the same
// network, and names are unique.
func TestGridsAreSound(t *testing.T) {
	for _, g := range []*Grid{MNIST(), CIFAR("cifar10:x")} {
		seen := map[string]Row{}
		for _, r := range g.Rows {
			if _, dup := seen[r.Name]; dup {
				t.Errorf("%s: row %s twice", g.Name, r.Name)
			}
			s, _, err := g.spec(r)
			if err != nil {
				t.Errorf("%s/%s: %v", g.Name, r.Name, err)
				continue
			}
			if r.Stages != "" && fmt.Sprint(s.Stages) != "["+r.Stages+"]" {
				t.Errorf("%s/%s: stages %v, want %s", g.Name, r.Name, s.Stages, r.Stages)
			}
			if r.Train.Epochs > 0 {
				if err := r.Train.Validate(); err != nil {
					t.Errorf("%s/%s: %v", g.Name, r.Name, err)
				}
			}
			if r.Init != "" {
				init, ok := seen[r.Init]
				if !ok {
					t.Errorf("%s/%s starts from %s, which does not come before it", g.Name, r.Name, r.Init)
					continue
				}
				is, _, _ := g.spec(init)
				if is.String() != s.String() {
					t.Errorf("%s/%s starts from %s, a different network", g.Name, r.Name, r.Init)
				}
			}
			seen[r.Name] = r
		}
	}
}

func TestReportSaysWhatIsMissing(t *testing.T) {
	g := MNIST()
	result := func(clean, acc, final float64) *Result {
		return &Result{Eval: &eval.Result{Clean: clean, Protocol: eval.Protocol,
			AttackResult: eval.AttackResult{Curve: []eval.Point{{Iters: 100, Accuracy: acc, FinalAccuracy: final}}}}}
	}
	res := map[string]*Result{
		"adv100-clean0":   result(0.98, 0.90, 0.91),
		"adv100-clean100": result(0.99, 0.80, 0.95),
		"adv100-clean20":  result(0.99, 0.895, 0.895),
		"mbn-adv":         result(0.97, 0.70, 0.70),
	}
	var b bytes.Buffer
	g.Report(&b, res, nil)
	out := b.String()
	for _, want := range []string{
		"adversarial plus clean images (Fig. 1): **reproduced** (PGD-100 accuracy 90.0% for adv100-clean0 vs 80.0% for adv100-clean100)",
		"already cost robustness against 0%: **not at this scale**",
		"MBN_adv is more robust than BN on the same mixed batches: **contradicted**",
		"GN is more robust than BN on the same mixed batches: no numbers",
		"`netc reproduce mnist --row gn`",
		"| 98.0 | 90.0 (91.0) |",
		"counts an image only if it is classified correctly clean and at every iterate up to K",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
