package eval

import (
	"context"
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
	} {
		if _, err := Run(m, test, c); err == nil {
			t.Errorf("Run(%+v) succeeded, want an error", c)
		}
	}
}
