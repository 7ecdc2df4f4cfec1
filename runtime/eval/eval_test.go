package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/netc/netc/runtime"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// trained returns a tiny model trained on synthetic squares.
func trained(t *testing.T) (runtime.Model, *data.Dataset) {
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

// One trajectory serves every K with the same effective step: the curve
// equals separate evaluations with the same seed.
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
		for i, k := range iters {
			c.Iters = []int{k}
			one, err := Run(m, test, c)
			if err != nil {
				t.Fatal(err)
			}
			if one.Curve[0] != curve.Curve[i] || one.Clean != curve.Clean {
				t.Errorf("%s PGD-%d: %+v alone, %+v in the curve", loss, k, one.Curve[0], curve.Curve[i])
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

func TestRejectsBadConfig(t *testing.T) {
	m, test := trained(t)
	for _, c := range []Config{
		{Iters: []int{0}, Batch: 4},
		{Iters: []int{10}, Batch: 0},
		{Iters: []int{10}, Batch: 4, Restarts: -1},
	} {
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
		for i, p := range four.Curve {
			q := one.Curve[i]
			if p.Accuracy > q.Accuracy || p.TargetSuccess < q.TargetSuccess {
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
	flat := []Point{{Iters: 10, Accuracy: 0.5}, {Iters: 100, Accuracy: 0.4}, {Iters: 1000, Accuracy: 0.399}}
	if w := selfCheck(flat, 1000); len(w) != 0 {
		t.Errorf("a converged curve: %q", w)
	}
	rising := []Point{{Iters: 10, Accuracy: 0.5}, {Iters: 100, Accuracy: 0.52}}
	if w := selfCheck(rising, 1000); len(w) != 1 || !strings.Contains(w[0], "rises") {
		t.Errorf("a rising curve: %q", w)
	}
	falling := []Point{{Iters: 10, Accuracy: 0.5}, {Iters: 100, Accuracy: 0.4}}
	if w := selfCheck(falling, 1000); len(w) != 1 || !strings.Contains(w[0], "not asymptotic") {
		t.Errorf("a falling curve: %q", w)
	}
	if w := selfCheck(falling, 5); len(w) != 0 { // 0.1 of 5 images is half an image
		t.Errorf("a drop of under one image: %q", w)
	}
}

func TestMasking(t *testing.T) {
	u := &Result{Curve: []Point{{Iters: 10, Accuracy: 0.3}}}
	tg := &Result{Curve: []Point{{Iters: 10, Accuracy: 0.5}}}
	if w := Masking(u, tg); w != "" {
		t.Errorf("untargeted below targeted: %q", w)
	}
	u.Curve[0].Accuracy = 0.6
	if w := Masking(u, tg); !strings.Contains(w, "masking") {
		t.Errorf("untargeted above targeted: %q", w)
	}
}

func TestTop5(t *testing.T) {
	z := &runtime.Tensor{Shape: []int{1, 7}, Data: []float32{7, 6, 5, 4, 3, 2, 1}}
	for label, want := range []int{1, 1, 1, 1, 1, 0, 0} {
		if got := countTop5(z, []int{label}); got != want {
			t.Errorf("label %d: in top 5 %d, want %d", label, got, want)
		}
	}
	tie := &runtime.Tensor{Shape: []int{1, 7}, Data: []float32{1, 1, 1, 1, 1, 1, 1}}
	if countTop5(tie, []int{4}) != 1 || countTop5(tie, []int{5}) != 0 {
		t.Error("ties go to the lower index, as arg max does")
	}
}
