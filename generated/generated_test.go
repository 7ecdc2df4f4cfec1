package generated_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netc/netc/generated/internal/reduced/resnet152"
	"github.com/netc/netc/generated/internal/reduced/resnet152gn"
	"github.com/netc/netc/generated/internal/reduced/resnet338"
	"github.com/netc/netc/generated/internal/reduced/resnet50"
	"github.com/netc/netc/generated/internal/reduced/resnet638"
	"github.com/netc/netc/generated/mnistresnet"
	"github.com/netc/netc/generated/resnet20cifar"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
)

// compiled are the models checked, with the batch each runs.
var compiled = []struct {
	name  string
	new   func(seed uint64) (nn.Model, error)
	batch int
}{
	{"mnistresnet", wrap(mnistresnet.New), 4},
	{"resnet20cifar", wrap(resnet20cifar.New), 4},
	{"reduced/resnet50", wrap(resnet50.New), 2},
	{"reduced/resnet152", wrap(resnet152.New), 2},
	{"reduced/resnet152gn", wrap(resnet152gn.New), 2},
	{"reduced/resnet338", wrap(resnet338.New), 2},
	{"reduced/resnet638", wrap(resnet638.New), 2},
}

func wrap[M nn.Model](f func(uint64) (M, error)) func(uint64) (nn.Model, error) {
	return func(seed uint64) (nn.Model, error) { return f(seed) }
}

// relErr is the largest difference between got and want relative to
// want's largest magnitude.
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range got {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// TestCompiledMatchesInterpreter checks every compiled model against
// the interpreter on the same weights: logits, input gradient, every
// parameter gradient and the running statistics, within 1e-5 relative
// (to the largest magnitude),
// in training (batch statistics, both MBN branches in one batch),
// evaluation (running statistics, all gradients) and on the attack
// path (BN folded, input gradient only, each branch).
func TestCompiledMatchesInterpreter(t *testing.T) {
	for _, c := range compiled {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.batch < 4 {
				t.Skip("deep model; -short")
			}
			got, err := c.new(7)
			if err != nil {
				t.Fatal(err)
			}
			want, err := interp.NewModel(got.Spec(), 7)
			if err != nil {
				t.Fatal(err)
			}
			gp, wp := got.Params(), want.Params()
			if len(gp) != len(wp) {
				t.Fatalf("%d parameters, the interpreter has %d", len(gp), len(wp))
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range gp {
				if gp[i].Name != wp[i].Name || gp[i].Decay != wp[i].Decay || gp[i].Norm != wp[i].Norm {
					t.Fatalf("parameter %d is %+v, the interpreter's %+v", i, *gp[i], *wp[i])
				}
				if e := relErr(gp[i].Value.Data, wp[i].Value.Data); e != 0 {
					t.Fatalf("%s: initial values differ from the interpreter's (%g)", gp[i].Name, e)
				}
				// Random weights, so zero-initialized gammas take part.
				for j := range gp[i].Value.Data {
					v := wp[i].Value.Data[j] + float32(rng.NormFloat64()*0.05)
					if gp[i].Norm && i%2 == 0 {
						v = 1 + float32(rng.NormFloat64()*0.2)
					}
					gp[i].Value.Data[j], wp[i].Value.Data[j] = v, v
				}
			}
			gs, ws := got.NormState(), want.NormState()
			if len(gs) != len(ws) {
				t.Fatalf("%d norm statistics, the interpreter has %d", len(gs), len(ws))
			}
			for i := range gs {
				for j := range gs[i].Mean {
					m, v := float32(rng.NormFloat64()*0.1), float32(0.5+rng.Float64())
					gs[i].Mean[j], ws[i].Mean[j] = m, m
					gs[i].Var[j], ws[i].Var[j] = v, v
				}
			}
			s := got.Spec()
			n := c.batch
			x := nn.NewTensor(n, s.Input[0], s.Input[1], s.Input[2])
			for i := range x.Data {
				x.Data[i] = rng.Float32()
			}
			dl := nn.NewTensor(n, s.Classes)
			for i := range dl.Data {
				dl.Data[i] = float32(rng.NormFloat64())
			}
			// Both run the same kernels but with the pure-Go ones, where
			// the interpreter takes runtime/ref's ops: then they agree to
			// float32 accuracy only.
			tol := 1e-5
			if isa, _ := kernels.Select(); isa == kernels.Generic {
				tol = 1e-3
			}
			check := func(what string, g, w []float32) {
				t.Helper()
				if e := relErr(g, w); e > tol {
					t.Errorf("%s differs from the interpreter's by %.3g relative", what, e)
				}
			}
			passes := []struct {
				name string
				mode nn.Mode
				want nn.Grads
			}{
				{"train", nn.Mode{Norm: nn.BatchStats, UpdateStats: true, Split: n / 2, Branch: nn.Adv}, nn.AllGrads},
				{"eval", nn.Mode{Norm: nn.RunningStats, Split: n / 2, Branch: nn.Adv}, nn.AllGrads},
				{"attack adv", nn.Mode{Norm: nn.RunningStats, Branch: nn.Adv, InputOnly: true}, nn.InputOnly},
				{"attack clean", nn.Mode{Norm: nn.RunningStats, Branch: nn.Clean, InputOnly: true}, nn.InputOnly},
				{"attack batch stats", nn.Mode{Norm: nn.BatchStats, Branch: nn.Adv, InputOnly: true}, nn.InputOnly},
			}
			for _, p := range passes {
				check(p.name+" logits", got.Forward(x, p.mode).Data, want.Forward(x, p.mode).Data)
				got.Backward(dl, p.want)
				want.Backward(dl, p.want)
				check(p.name+" input gradient", got.InputGrad().Data, want.InputGrad().Data)
				if p.want == nn.AllGrads {
					for i := range gp {
						check(fmt.Sprintf("%s %s gradient", p.name, gp[i].Name), gp[i].Grad.Data, wp[i].Grad.Data)
					}
				}
				for i := range gs {
					check(p.name+" "+gs[i].Name+" running mean", gs[i].Mean, ws[i].Mean)
					check(p.name+" "+gs[i].Name+" running var", gs[i].Var, ws[i].Var)
				}
			}
		})
	}
}
