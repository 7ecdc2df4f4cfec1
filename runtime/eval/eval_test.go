package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// trained returns a tiny model trained on synthetic squares.
func trained(t *testing.T) (nn.Model, *data.Dataset) {
	t.Helper()
	s, err := spec.Parse("tiny.spec", []byte("model tiny\ninput 1 8 8\nclasses 3\nstem cifar\nblock basic\nstages 1 1 1\nwidth 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := train.Defaults(16)
	c.Epochs, c.LR, c.Smoothing = 5, 0.1, 0
	r := &train.Run{Dir: t.TempDir(), Config: c, Model: m, Data: data.Synthetic(96, 1, 8, 8, 3, 1), Quiet: true}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, data.Synthetic(40, 1, 8, 8, 3, 2)
}

// One trajectory serves every K with the same effective step: the
// paper-protocol columns of the curve equal separate evaluations with
// the same seed. Accuracy also counts the iterates of the curve's
// shorter attacks (of other effective steps), so in a curve it is at
// most its value alone, and equal to it for the first count.
func TestCurveEqualsSeparateRuns(t *testing.T) {
	m, test := trained(t)
	for _, loss := range []pgd.Loss{pgd.Targeted, pgd.Untargeted} {
		att := pgd.Config{Eps: 0.5, Step: 0.02, Loss: loss}
		iters := []int{5, 10, 25, 50} // effective steps 0.1, 0.05, 0.02, 0.02
		c := Config{Attack: att, Iters: iters, Batch: 16, Seed: 3, Quiet: true}
		curve, err := Run(m, test, c)
		if err != nil {
			t.Fatal(err)
		}
		if len(curve.Curve) != len(iters) {
			t.Fatalf("%d points, want %d", len(curve.Curve), len(iters))
		}
		if curve.Curve[2].Step != curve.Curve[3].Step || curve.Curve[0].Step != 0.1 {
			t.Errorf("effective steps %+v", curve.Curve)
		}
		checkInvariants(t, curve)
		for i, k := range iters {
			c.Iters = []int{k}
			one, err := Run(m, test, c)
			if err != nil {
				t.Fatal(err)
			}
			p, q := curve.Curve[i], one.Curve[0]
			if p.FinalAccuracy != q.FinalAccuracy || p.FinalTargetSuccess != q.FinalTargetSuccess || p.FinalTop5 != q.FinalTop5 || p.Step != q.Step || one.Clean != curve.Clean {
				t.Errorf("%s PGD-%d: %+v alone, %+v in the curve", loss, k, q, p)
			}
			if p.Accuracy > q.Accuracy || p.TargetSuccess < q.TargetSuccess || i == 0 && p != q {
				t.Errorf("%s PGD-%d: %+v alone, %+v in the curve: the curve's shorter attacks can only lower accuracy", loss, k, q, p)
			}
		}
		if curve.Clean < 0.9 {
			t.Errorf("clean accuracy %.2f, want a trained model", curve.Clean)
		}
		if last := curve.Curve[len(iters)-1].Accuracy; last >= curve.Clean {
			t.Errorf("%s: PGD-50 accuracy %.2f not below clean %.2f at eps 0.5", loss, last, curve.Clean)
		}
	}
}

// checkInvariants checks what holds of every result by construction:
// Accuracy at most the clean and the paper-protocol accuracy and never
// rising, target success at least the K-th iterate's.
func checkInvariants(t *testing.T, r *Result) {
	t.Helper()
	for i, p := range r.Curve {
		if p.Accuracy > r.Clean || p.Accuracy > p.FinalAccuracy || p.Top5 > p.FinalTop5 || p.TargetSuccess < p.FinalTargetSuccess {
			t.Errorf("%s PGD-%d: %+v with clean accuracy %g", r.Attack, p.Iters, p, r.Clean)
		}
		if i > 0 && (p.Accuracy > r.Curve[i-1].Accuracy || p.TargetSuccess < r.Curve[i-1].TargetSuccess) {
			t.Errorf("%s: accuracy rises or target success falls from %+v to %+v", r.Attack, r.Curve[i-1], p)
		}
	}
	if r.Protocol != Protocol {
		t.Errorf("protocol %q", r.Protocol)
	}
}

func TestRejectsBadConfig(t *testing.T) {
	m, test := trained(t)
	for _, c := range []Config{
		{Iters: []int{0}, Batch: 4},
		{Iters: []int{10}, Batch: 0},
		{Iters: []int{10}, Batch: 4, Restarts: -1},
		{Iters: []int{10, -1}, Batch: 4},
		{Batch: 4, Limit: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) succeeded, want an error", c)
		}
		if _, err := Run(m, test, c); err == nil {
			t.Errorf("Run(%+v) succeeded, want an error", c)
		}
	}
}

// More restarts can only lower accuracy at every K (an image must survive
// all of them) and raise targeted success; the first restart is the
// single-start evaluation.
func TestRestartsOnlyStrengthen(t *testing.T) {
	m, test := trained(t)
	for _, loss := range []pgd.Loss{pgd.Targeted, pgd.Untargeted} {
		c := Config{Attack: pgd.Config{Eps: 0.3, Step: 0.05, Loss: loss}, Iters: []int{2, 5}, Batch: 16, Seed: 3, Quiet: true}
		one, err := Run(m, test, c)
		if err != nil {
			t.Fatal(err)
		}
		c.Restarts = 4
		four, err := Run(m, test, c)
		if err != nil {
			t.Fatal(err)
		}
		weaker := false
		checkInvariants(t, four)
		for i, p := range four.Curve {
			q := one.Curve[i]
			if p.Accuracy > q.Accuracy || p.TargetSuccess < q.TargetSuccess || p.FinalAccuracy > q.FinalAccuracy || p.FinalTargetSuccess < q.FinalTargetSuccess {
				t.Errorf("%s PGD-%d: 4 restarts %+v, 1 restart %+v", loss, p.Iters, p, q)
			}
			weaker = weaker || p.Accuracy < q.Accuracy || p.TargetSuccess > q.TargetSuccess
		}
		if !weaker {
			t.Logf("%s: restarts changed nothing on this model", loss)
		}
		if four.Restarts != 4 || one.Restarts != 1 {
			t.Errorf("restarts recorded %d and %d", one.Restarts, four.Restarts)
		}
	}
}

func TestSelfCheck(t *testing.T) {
	flat := []Point{{Iters: 10, FinalAccuracy: 0.5}, {Iters: 100, FinalAccuracy: 0.4}, {Iters: 1000, FinalAccuracy: 0.399}}
	if w := selfCheck(flat, 1000); len(w) != 0 {
		t.Errorf("a converged curve: %q", w)
	}
	rising := []Point{{Iters: 10, FinalAccuracy: 0.5}, {Iters: 100, FinalAccuracy: 0.52}}
	if w := selfCheck(rising, 1000); len(w) != 1 || !strings.Contains(w[0], "rises") {
		t.Errorf("a rising curve: %q", w)
	}
	falling := []Point{{Iters: 10, FinalAccuracy: 0.5}, {Iters: 100, FinalAccuracy: 0.4}}
	if w := selfCheck(falling, 1000); len(w) != 1 || !strings.Contains(w[0], "not asymptotic") {
		t.Errorf("a falling curve: %q", w)
	}
	if w := selfCheck(falling, 5); len(w) != 0 { // 0.1 of 5 images is half an image
		t.Errorf("a drop of under one image: %q", w)
	}
	// The checks look at the paper-protocol column only: Accuracy
	// falls by construction.
	strict := []Point{{Iters: 10, Accuracy: 0.5, FinalAccuracy: 0.4}, {Iters: 100, Accuracy: 0.3, FinalAccuracy: 0.4}}
	if w := selfCheck(strict, 1000); len(w) != 0 {
		t.Errorf("a flat paper-protocol column: %q", w)
	}
}

func TestMasking(t *testing.T) {
	result := func(acc, final float64) *Result {
		return &Result{AttackResult: AttackResult{Curve: []Point{{Iters: 10, Accuracy: acc, FinalAccuracy: final}}}}
	}
	if w := Masking(result(0.3, 0.3), result(0.5, 0.5)); w != "" {
		t.Errorf("untargeted below targeted: %q", w)
	}
	if w := Masking(result(0.6, 0.6), result(0.5, 0.5)); !strings.Contains(w, "masking") {
		t.Errorf("untargeted above targeted: %q", w)
	}
	if w := Masking(result(0.3, 0.6), result(0.3, 0.5)); !strings.Contains(w, "K-th iterate") {
		t.Errorf("untargeted above targeted at the K-th iterate: %q", w)
	}
}

func TestTop5(t *testing.T) {
	z := &nn.Tensor{Shape: []int{1, 7}, Data: []float32{7, 6, 5, 4, 3, 2, 1}}
	for label, want := range []int{1, 1, 1, 1, 1, 0, 0} {
		if got := countTop5(z, []int{label}); got != want {
			t.Errorf("label %d: in top 5 %d, want %d", label, got, want)
		}
	}
	tie := &nn.Tensor{Shape: []int{1, 7}, Data: []float32{1, 1, 1, 1, 1, 1, 1}}
	if countTop5(tie, []int{4}) != 1 || countTop5(tie, []int{5}) != 0 {
		t.Error("ties go to the lower index, as arg max does")
	}
}
