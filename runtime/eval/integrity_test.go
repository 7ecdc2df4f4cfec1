package eval

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/spec"
)

// seesaw is a model of one-pixel images whose attack trajectory is known:
// class 0 at the pixel values below cut, class 1 above; its input
// gradient points down above cut and up below, so that untargeted PGD
// with a step of at least 2ε from a clean pixel v just above cut + ε
// goes from the random start to v − ε (class 0), then v + ε (class 1),
// and so on. Above inf its logits are infinite.
type seesaw struct {
	cut, inf float32
	x        []float32
	logits   nn.Tensor
	dx       nn.Tensor
	w        nn.Param
}

func newSeesaw(cut float32) *seesaw {
	return &seesaw{cut: cut, inf: 2, w: nn.Param{Name: "w", Value: &nn.Tensor{Shape: []int{1}, Data: []float32{1}}}}
}

func (m *seesaw) Spec() *spec.Spec {
	return &spec.Spec{Model: "seesaw", Input: [3]int{1, 1, 1}, Classes: 2}
}

func (m *seesaw) Forward(x *nn.Tensor, _ nn.Mode) *nn.Tensor {
	m.x = append(m.x[:0], x.Data...)
	m.logits.Shape = []int{len(x.Data), 2}
	m.logits.Data = make([]float32, 2*len(x.Data))
	for i, v := range x.Data {
		c := 0
		if v > m.cut {
			c = 1
		}
		m.logits.Data[2*i+c] = 1
		if v > m.inf {
			m.logits.Data[2*i+c] = float32(math.Inf(1))
		}
	}
	return &m.logits
}

func (m *seesaw) Backward(*nn.Tensor, nn.Grads) {
	m.dx.Shape = []int{len(m.x), 1, 1, 1}
	m.dx.Data = make([]float32, len(m.x))
	for i, v := range m.x {
		m.dx.Data[i] = 1
		if v > m.cut {
			m.dx.Data[i] = -1
		}
	}
}

func (m *seesaw) InputGrad() *nn.Tensor      { return &m.dx }
func (m *seesaw) Params() []*nn.Param        { return []*nn.Param{&m.w} }
func (m *seesaw) NormState() []*nn.NormStats { return nil }
func onePixel(pixels, labels []uint8) *data.Dataset {
	return &data.Dataset{Name: "one-pixel", C: 1, H: 1, W: 1, Classes: 2, Pixels: pixels, Labels: labels}
}

// seesawCase is the seesaw of clean pixel 128 at ε 0.2: class 1 clean
// and at the random start, 0 at iterate 1, 1 at iterate 2, 0 at 3.
func seesawCase() (*seesaw, pgd.Config) {
	eps := float32(0.2)
	lo := float32(128)/255 - eps
	return newSeesaw(lo + 1e-4), pgd.Config{Eps: float64(eps), Step: 0.5, Loss: pgd.Untargeted}
}

// Regression (issue 11, item 1): an image counted as robust when the
// K-th iterate was classified correctly, even when the clean image or
// an earlier iterate was not, so robust accuracy could exceed clean
// accuracy. The seesaw's two images labelled 0 are wrong clean and
// right at iterate 1; the one labelled 1 is right clean, wrong at
// iterate 1, right at iterate 2.
func TestRobustAccuracyNeverExceedsClean(t *testing.T) {
	m, att := seesawCase()
	d := onePixel([]uint8{128, 128, 128}, []uint8{1, 0, 0})
	res, err := Run(m, d, Config{Attack: att, Iters: []int{1, 2, 3}, Batch: 2, Seed: 1, Quiet: true, Restarts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Clean != 1.0/3 {
		t.Fatalf("clean accuracy %g, want 1/3", res.Clean)
	}
	want := []Point{
		{Iters: 1, Step: 0.5, Accuracy: 0, FinalAccuracy: 2.0 / 3},
		{Iters: 2, Step: 0.5, Accuracy: 0, FinalAccuracy: 1.0 / 3},
		{Iters: 3, Step: 0.5, Accuracy: 0, FinalAccuracy: 2.0 / 3},
	}
	for i, p := range res.Curve {
		if p != want[i] {
			t.Errorf("PGD-%d: %+v, want %+v", p.Iters, p, want[i])
		}
	}
	checkInvariants(t, res)
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "rises from 33.33% at PGD-2 to 66.67% at PGD-3") {
		t.Errorf("the paper-protocol column rises, warnings %q", res.Warnings)
	}
}

// An image right clean and at the start but wrong at iterate 1 is not
// robust at K = 2 though iterate 2 is right.
func TestEveryIterateCounts(t *testing.T) {
	m, att := seesawCase()
	d := onePixel([]uint8{128}, []uint8{1})
	res, err := Run(m, d, Config{Attack: att, Iters: []int{2}, Batch: 1, Seed: 1, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Curve[0]; res.Clean != 1 || p.Accuracy != 0 || p.FinalAccuracy != 1 {
		t.Errorf("clean %g, PGD-2 %+v; want 1, accuracy 0, final accuracy 1", res.Clean, p)
	}
}

// recorder is a seesaw that keeps the input of every forward pass.
type recorder struct {
	*seesaw
	inputs [][]float32
}

func (m *recorder) Forward(x *nn.Tensor, mode nn.Mode) *nn.Tensor {
	m.inputs = append(m.inputs, append([]float32(nil), x.Data...))
	return m.seesaw.Forward(x, mode)
}

// Evaluation attacks start at a random point of the ε-cube, whatever
// the attack's CleanStart (training's 0.2).
func TestEvaluationStartsAtRandom(t *testing.T) {
	m := &recorder{seesaw: newSeesaw(0.5)}
	d := onePixel([]uint8{100, 200}, []uint8{0, 1})
	att := pgd.Config{Eps: 0.1, Step: 0.01, Loss: pgd.Untargeted, CleanStart: 1}
	if _, err := Run(m, d, Config{Attack: att, Iters: []int{1}, Batch: 2, Quiet: true, Restarts: 3}); err != nil {
		t.Fatal(err)
	}
	if len(m.inputs) != 1+3*2 { // the clean pass; per restart a step and the last iterate
		t.Fatalf("%d forward passes", len(m.inputs))
	}
	clean := m.inputs[0]
	for r := range 3 {
		start := m.inputs[1+2*r]
		for i, v := range start {
			if v == clean[i] || math.Abs(float64(v-clean[i])) > 0.1+1e-6 {
				t.Errorf("restart %d starts image %d at %g, clean %g: want a random point within eps 0.1", r+1, i, v, clean[i])
			}
		}
	}
}

// Regression (issue 11, item 2): a model that is not finite was scored.
// Weights with a NaN are refused before any pass; infinite logits at an
// iterate stop the evaluation with the image, the pass and the layer.
func TestNonFiniteModelsAreNotScored(t *testing.T) {
	m, att := seesawCase()
	d := onePixel([]uint8{10, 128, 20}, []uint8{0, 1, 0})
	m.w.Value.Data[0] = float32(math.NaN())
	_, err := Run(m, d, Config{Attack: att, Iters: []int{2}, Batch: 3, Quiet: true})
	var nf *nn.NonFiniteError
	if !errors.As(err, &nf) || nf.Tensor != "w" || !strings.Contains(err.Error(), "tensor w is not finite") {
		t.Errorf("NaN weight: %v", err)
	}
	m.w.Value.Data[0] = 1
	m.inf = 0.65 // iterate 2 of the image of pixel 128 is 128/255 + 0.2
	located := false
	locate := func(lm nn.Model, x *nn.Tensor, mode nn.Mode) (string, error) {
		located = lm == nn.Model(m) && len(x.Data) == 1 && x.Data[0] > m.inf && mode.Norm == nn.RunningStats
		return "layer seesaw.cut", nil
	}
	_, err = Run(m, d, Config{Attack: att, Iters: []int{1, 3}, Batch: 3, Quiet: true, Locate: locate})
	var bad *NonFiniteError
	if !errors.As(err, &bad) {
		t.Fatalf("infinite logits: %v, want a *NonFiniteError", err)
	}
	if bad.Image != 1 || bad.What != "logits" || !strings.HasPrefix(bad.Pass, "PGD iterate 2 ") || !located ||
		!strings.Contains(err.Error(), "layer seesaw.cut") || !strings.Contains(err.Error(), "test image 1 (batch of images 0-2): its logits in PGD iterate 2 (untargeted, step 0.5, restart 1 of 1) hold a NaN") {
		t.Errorf("infinite logits: %+v (located %v): %v", bad, located, err)
	}
	m.inf = 0.4 // the clean image of pixel 128 already
	_, err = Run(m, d, Config{Attack: att, Iters: []int{1}, Batch: 2, Quiet: true})
	if !errors.As(err, &bad) || bad.Pass != "the clean pass" || bad.Image != 1 || !strings.Contains(err.Error(), "netc eval names the first layer") {
		t.Errorf("infinite clean logits: %v", err)
	}
}

// A NaN input gradient would freeze the attack (its sign is no
// direction) and the image would look robust: it stops the evaluation.
func TestNaNGradientStops(t *testing.T) {
	m := &nanGrad{seesaw: newSeesaw(0.5)}
	d := onePixel([]uint8{200}, []uint8{1})
	_, err := Run(m, d, Config{Attack: pgd.Config{Eps: 0.1, Step: 0.1, Loss: pgd.Untargeted}, Iters: []int{3}, Batch: 1, Quiet: true})
	var bad *NonFiniteError
	if !errors.As(err, &bad) || bad.What != "input gradient" || !strings.HasPrefix(bad.Pass, "PGD iterate 0 ") || !strings.Contains(err.Error(), "backward pass") {
		t.Errorf("NaN gradient: %v", err)
	}
}

type nanGrad struct{ *seesaw }

func (m *nanGrad) Backward(dl *nn.Tensor, g nn.Grads) {
	m.seesaw.Backward(dl, g)
	m.dx.Data[0] = float32(math.NaN())
}
