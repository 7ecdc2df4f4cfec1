// Package modelcheck holds the checks every compiled model passes, for
// the tests of package generated and of the models they compile into a
// temporary folder.
package modelcheck

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
)

// New makes a compiled model from a seed.
type New func(seed uint64) (nn.Model, error)

// Wrap is a generated package's New as a New.
func Wrap[M nn.Model](f func(uint64) (M, error)) New {
	return func(seed uint64) (nn.Model, error) { return f(seed) }
}

// Predictor is what every compiled model adds to nn.Model.
type Predictor interface {
	nn.Model
	Predict(img []float32) (int, []float32)
	PredictBatch(imgs [][]float32) ([]int, [][]float32)
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

// MatchesInterpreter checks a compiled model (newModel) against the
// interpreter on the same weights: logits, input gradient, every
// parameter gradient and the running statistics, within 1e-5 relative
// (to the largest magnitude),
// in training (batch statistics, both MBN branches in one batch),
// evaluation (running statistics, all gradients) and on the attack
// path (BN folded, input gradient only, each branch).
func MatchesInterpreter(t *testing.T, newModel New, batch int) {
	got, err := newModel(7)
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
	n := batch
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
}

// randomize gives the norm layers random affine parameters (the
// zero-initialized gammas too, so that every block takes part) and
// running statistics; the weights keep their initial draw.
func randomize(m nn.Model, rng *rand.Rand) {
	for _, p := range m.Params() {
		if p.Norm {
			for j := range p.Value.Data {
				p.Value.Data[j] = float32(rng.NormFloat64() * 0.2)
			}
		}
	}
	for _, s := range m.NormState() {
		for j := range s.Mean {
			s.Mean[j], s.Var[j] = float32(rng.NormFloat64()*0.1), float32(0.5+rng.Float64())
		}
	}
}

// Predict checks a compiled model's (newModel's) Predict and PredictBatch:
// they run on replicas of the model, which must compute bitwise what
// the model's own Forward computes in inference mode, one image at a
// time or batched, and from several goroutines at once.
func Predict(t *testing.T, newModel New, batch int) {
	rm, err := newModel(3)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := rm.(Predictor)
	if !ok {
		t.Fatalf("%T has no Predict", rm)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	randomize(m, rng)
	in := m.Spec().Input
	size := in[0] * in[1] * in[2]
	n := batch
	x := nn.NewTensor(n, in[0], in[1], in[2])
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	imgs := make([][]float32, n)
	for i := range imgs {
		imgs[i] = x.Data[i*size : (i+1)*size]
	}
	logits := m.Forward(x, nn.Mode{Norm: nn.RunningStats, Branch: nn.Adv, InputOnly: true}).Data
	k := m.Spec().Classes
	classes, probs := m.PredictBatch(imgs)
	for i := range imgs {
		wc, wp := nn.Softmax(logits[i*k : (i+1)*k])
		if !finite(wp) {
			t.Fatalf("image %d: p = %v", i, wp)
		}
		if classes[i] != wc || !slices.Equal(probs[i], wp) {
			t.Fatalf("image %d: PredictBatch gives class %d, p = %v; Forward class %d, p = %v", i, classes[i], probs[i], wc, wp)
		}
	}
	// Each goroutine classifies every image, one at a time.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Go(func() {
			for j := range imgs {
				i := (j + g) % n
				if c, p := m.Predict(imgs[i]); c != classes[i] || !slices.Equal(p, probs[i]) {
					errs[g] = fmt.Errorf("goroutine %d, image %d: Predict gives class %d, p = %v; PredictBatch class %d, p = %v", g, i, c, p, classes[i], probs[i])
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// Main runs a test binary's tests on the kernels NETC_ISA names (the
// fastest if unset), as the commands do: call it from TestMain.
func Main(m *testing.M) {
	if err := kernels.Prefer(kernels.ISA(os.Getenv("NETC_ISA"))); err != nil {
		fmt.Fprintln(os.Stderr, "NETC_ISA:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}
