package eval

import (
	"errors"
	"fmt"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
)

// ImageAttack is what AttackImages found of one image.
type ImageAttack struct {
	Index       int `json:"index"` // in the test set
	Label       int `json:"label"`
	Clean       int `json:"clean"`       // the class of the clean image
	Adversarial int `json:"adversarial"` // the class of the last iterate
	// Robust: classified right clean and at every iterate.
	Robust     bool    `json:"robust"`
	Confidence float32 `json:"confidence"` // the probability of Adversarial at the last iterate
	Linf       float64 `json:"linf"`       // the largest pixel change
}

// AttackImages attacks the first limit images of test, batch images at a
// time, with a as training attacks (each batch starts at the clean images
// with probability a.Config.CleanStart, else at a random point of the
// ε-cube; Run always starts at random), and calls each with every image's
// outcome, in order. A NaN or an infinity in any pass stops it with a
// *NonFiniteError, whose layer locator (if not nil) names.
func AttackImages(m nn.Model, test *data.Dataset, a *pgd.Attacker, limit, batch int, locator Locator, each func(ImageAttack) error) error {
	c := a.Config
	k, size := m.Spec().Classes, test.C*test.H*test.W
	if c.Loss == pgd.Targeted && k < 2 {
		return fmt.Errorf("a targeted attack needs 2 classes or more, %s has %d", m.Spec().File, k)
	}
	n := min(limit, test.Len())
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		x := nn.NewTensor(len(idx), test.C, test.H, test.W)
		y := make([]int, len(idx))
		test.Batch(idx, x.Data, y)
		mode := a.Inference()
		nonFinite := func(what, pass string, i int, xi *nn.Tensor) error {
			return locate(locator, m, mode, &NonFiniteError{Model: m.Spec().Model, Image: lo + i, Batch: [2]int{lo, hi - 1}, Pass: pass, What: what}, xi, i)
		}
		logits := m.Forward(x, mode)
		if j := nn.FirstNonFinite(logits.Data); j >= 0 {
			return nonFinite("logits", "the clean pass", j/k, x)
		}
		clean := make([]int, len(y))
		robust := make([]bool, len(y))
		for i, lab := range y {
			clean[i], _ = nn.Softmax(logits.Data[i*k : (i+1)*k])
			robust[i] = clean[i] == lab
		}
		// The attack as pgd.Attacker.Attack runs it, seeing every iterate.
		follow := y
		if c.Loss == pgd.Targeted {
			follow = a.Targets(y, k)
		}
		xa := a.Start(x)
		last := make([]float32, len(y)*k)
		err := a.Trajectory(m, xa, follow, a.EffectiveStep(), c.Steps, func(s int, logits *nn.Tensor) error {
			if j := nn.FirstNonFinite(logits.Data); j >= 0 {
				return nonFinite("logits", fmt.Sprintf("PGD iterate %d", s), j/k, xa)
			}
			for i, lab := range y {
				if nn.CountTop1(logits.Data[i*k:(i+1)*k], k, []int{lab}) == 0 {
					robust[i] = false
				}
			}
			if s == c.Steps {
				copy(last, logits.Data)
			}
			return nil
		})
		if ge := (*pgd.GradientError)(nil); errors.As(err, &ge) {
			return nonFinite("input gradient", fmt.Sprintf("PGD iterate %d", ge.Iterate), ge.Image, nil)
		}
		if err != nil {
			return err
		}
		for i, lab := range y {
			adv, probs := nn.Softmax(last[i*k : (i+1)*k])
			linf := 0.0
			for j := range size {
				linf = max(linf, float64(abs32(xa.Data[i*size+j]-x.Data[i*size+j])))
			}
			r := ImageAttack{Index: lo + i, Label: lab, Clean: clean[i], Adversarial: adv, Robust: robust[i], Confidence: probs[adv], Linf: linf}
			if err := each(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// Classify runs one image (C×H×W pixels in [0,1]) through m in inference
// mode and returns its class and the softmax probabilities. It runs
// m.Forward, so it is not safe for concurrent use on one m (a compiled
// model's Predict is).
func Classify(m nn.Model, img []float32) (int, []float32) {
	var buf []float32
	classes, probs := nn.PredictBatch(m, [][]float32{img}, 1, &buf)
	return classes[0], probs[0]
}
