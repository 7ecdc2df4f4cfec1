// Package eval measures a model's clean accuracy and its accuracy under
// PGD attacks of several iteration counts, reusing one trajectory for all
// counts that share an effective step.
package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netc/netc/runtime"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/progress"
)

// Config is an evaluation.
type Config struct {
	Attack pgd.Config // Steps is ignored: Iters lists them
	Iters  []int      // PGD iteration counts, e.g. 10, 100, 2000
	Batch  int
	Limit  int // evaluate the first Limit images (0: all)
	Seed   uint64
	Branch runtime.Branch // MBN branch for the predictions and the attack
	// Restarts is how many random starts each image gets (0 means 1): it
	// counts as robust at K only if every restart leaves it classified
	// correctly, and as hit if any restart reaches the target.
	Restarts int
	Quiet    bool // no progress bar
}

// Point is the result of PGD-K.
type Point struct {
	Iters int     `json:"iters"`
	Step  float64 `json:"step"` // effective step size
	// Accuracy is the share of images still classified correctly at the
	// K-th iterate.
	Accuracy float64 `json:"accuracy"`
	// TargetSuccess is the share classified as the attack's target
	// (targeted attacks only).
	TargetSuccess float64 `json:"target_success,omitempty"`
	// Top5 is the share whose label is still among the 5 largest logits
	// (models with more than 5 classes).
	Top5 float64 `json:"top5_accuracy,omitempty"`
}

// Result is an evaluation's outcome.
type Result struct {
	Images    int     `json:"images"`
	Clean     float64 `json:"clean_accuracy"`
	CleanTop5 float64 `json:"clean_top5_accuracy,omitempty"`
	Attack    string  `json:"attack"`
	Eps       float64 `json:"eps"`
	Seed      uint64  `json:"seed"`
	Restarts  int     `json:"restarts"`
	Curve     []Point `json:"pgd"`
	// Warnings are the self-checks that failed: accuracy rising with K,
	// a curve still falling at its largest K.
	Warnings []string `json:"warnings,omitempty"`
}

// Run evaluates m on d.
func Run(m runtime.Model, d *data.Dataset, c Config) (*Result, error) {
	n := d.Len()
	if c.Limit > 0 && c.Limit < n {
		n = c.Limit
	}
	if n == 0 {
		return nil, fmt.Errorf("eval: %s has no images", d.Name)
	}
	if c.Batch <= 0 {
		return nil, fmt.Errorf("eval: batch %d must be positive", c.Batch)
	}
	if c.Restarts < 0 {
		return nil, fmt.Errorf("eval: restarts %d must be >= 0", c.Restarts)
	}
	iters := slices.Clone(c.Iters)
	slices.Sort(iters)
	iters = slices.Compact(iters)
	for _, k := range iters {
		if k < 1 {
			return nil, fmt.Errorf("eval: PGD iterations %d must be >= 1", k)
		}
	}
	att := c.Attack
	att.CleanStart = 0
	att.Branch = c.Branch
	// Group iteration counts by effective step: one trajectory per group.
	type group struct {
		step  float64
		iters []int
	}
	var groups []group
	for _, k := range iters {
		att.Steps = k
		s := att.EffectiveStep()
		if len(groups) > 0 && groups[len(groups)-1].step == s {
			groups[len(groups)-1].iters = append(groups[len(groups)-1].iters, k)
		} else {
			groups = append(groups, group{s, []int{k}})
		}
	}

	restarts := max(c.Restarts, 1)
	res := &Result{Images: n, Attack: att.Loss.String(), Eps: att.Eps, Seed: c.Seed, Restarts: restarts}
	top5 := d.Classes > 5
	// Per count K: images still correct (in every restart so far), hit
	// (in any), label in the top 5 (in every restart).
	correct, hit, inTop5 := map[int]int{}, map[int]int{}, map[int]int{}
	clean, cleanTop5 := 0, 0
	var bar *progress.Bar
	if !c.Quiet {
		bar = progress.New("eval", n, "img")
	}
	x0 := runtime.NewTensor(c.Batch, d.C, d.H, d.W)
	y := make([]int, c.Batch)
	idx := make([]int, c.Batch)
	inference := runtime.Mode{Norm: runtime.RunningStats, Branch: c.Branch, InputOnly: true}
	// Per image of a batch and count: still correct, hit, in the top 5.
	ok, hits, ok5 := map[int][]bool{}, map[int][]bool{}, map[int][]bool{}
	for _, k := range iters {
		ok[k], hits[k], ok5[k] = make([]bool, c.Batch), make([]bool, c.Batch), make([]bool, c.Batch)
	}
	for lo := 0; lo < n; lo += c.Batch {
		b := min(c.Batch, n-lo)
		for i := range b {
			idx[i] = lo + i
		}
		x := &runtime.Tensor{Shape: []int{b, d.C, d.H, d.W}, Data: x0.Data[:b*d.C*d.H*d.W]}
		d.Batch(idx[:b], x.Data, y[:b])
		logits := m.Forward(x, inference)
		clean += countEqual(logits, y[:b])
		cleanTop5 += countTop5(logits, y[:b])
		for _, k := range iters {
			for i := range b {
				ok[k][i], hits[k][i], ok5[k][i] = true, false, true
			}
		}
		for _, g := range groups {
			var targets []int
			for r := range restarts {
				// Draws depend on the seed, the batch, the step and the
				// restart only, so a point of the curve does not change
				// with the others asked for.
				attacker := pgd.New(att, rand.New(rand.NewPCG(c.Seed^math.Float64bits(g.step), uint64(lo)+uint64(r)<<40)))
				if att.Loss == pgd.Targeted && r == 0 {
					targets = attacker.Targets(y[:b], d.Classes)
				}
				follow := y[:b]
				if targets != nil {
					follow = targets
				}
				xa := attacker.Start(x)
				next, last := 0, g.iters[len(g.iters)-1]
				record := func(logits *runtime.Tensor) {
					k := g.iters[next]
					z, nc := logits.Data, logits.Shape[1]
					for i := range b {
						row := z[i*nc : (i+1)*nc]
						ok[k][i] = ok[k][i] && argmax(row) == y[i]
						ok5[k][i] = ok5[k][i] && rank(row, y[i]) < 5
						if targets != nil {
							hits[k][i] = hits[k][i] || argmax(row) == targets[i]
						}
					}
					next++
				}
				// The attack's forward pass gives the predictions at each
				// iterate for free when it normalizes as inference does.
				shared := att.Norm == runtime.RunningStats
				for s := 0; s < last; s++ {
					due := s == g.iters[next]
					if due && !shared {
						record(m.Forward(xa, inference))
					}
					logits := attacker.Step(m, xa, follow, g.step)
					if due && shared {
						record(logits)
					}
				}
				record(m.Forward(xa, inference))
			}
		}
		for _, k := range iters {
			for i := range b {
				correct[k] += b2i(ok[k][i])
				hit[k] += b2i(hits[k][i])
				inTop5[k] += b2i(ok5[k][i])
			}
		}
		if bar != nil {
			bar.Add(b, fmt.Sprintf("clean %.2f%%", 100*float64(clean)/float64(lo+b)))
		}
	}
	if bar != nil {
		bar.Done("")
	}
	res.Clean = float64(clean) / float64(n)
	if top5 {
		res.CleanTop5 = float64(cleanTop5) / float64(n)
	}
	for _, g := range groups {
		for _, k := range g.iters {
			p := Point{Iters: k, Step: g.step, Accuracy: float64(correct[k]) / float64(n)}
			if att.Loss == pgd.Targeted {
				p.TargetSuccess = float64(hit[k]) / float64(n)
			}
			if top5 {
				p.Top5 = float64(inTop5[k]) / float64(n)
			}
			res.Curve = append(res.Curve, p)
		}
	}
	res.Warnings = selfCheck(res.Curve, n)
	return res, nil
}

// selfCheck lists what is wrong with a curve over n images: accuracy
// that rises with more iterations (a weak or unstable attack), and a
// curve still falling at its largest count by more than one image and
// 0.5 points (not yet asymptotic).
func selfCheck(curve []Point, n int) []string {
	var w []string
	for i := 1; i < len(curve); i++ {
		a, b := curve[i-1], curve[i]
		if b.Accuracy > a.Accuracy {
			w = append(w, fmt.Sprintf("accuracy rises from %.2f%% at PGD-%d to %.2f%% at PGD-%d: the attack does not converge (step size?)",
				100*a.Accuracy, a.Iters, 100*b.Accuracy, b.Iters))
		}
	}
	if l := len(curve); l >= 2 {
		a, b := curve[l-2], curve[l-1]
		if drop := a.Accuracy - b.Accuracy; drop > 0.005 && drop*float64(n) > 1 {
			w = append(w, fmt.Sprintf("accuracy still falls from %.2f%% at PGD-%d to %.2f%% at PGD-%d: not asymptotic, evaluate more iterations",
				100*a.Accuracy, a.Iters, 100*b.Accuracy, b.Iters))
		}
	}
	return w
}

// Masking compares an untargeted and a targeted evaluation of the same
// model: untargeted PGD is the stronger attack on accuracy, so a higher
// untargeted accuracy at a count both have hints at gradient masking.
// It returns the warning, or "".
func Masking(untargeted, targeted *Result) string {
	for _, u := range untargeted.Curve {
		for _, t := range targeted.Curve {
			if u.Iters == t.Iters && u.Accuracy > t.Accuracy {
				return fmt.Sprintf("untargeted accuracy %.2f%% exceeds targeted %.2f%% at PGD-%d: a sign of gradient masking",
					100*u.Accuracy, 100*t.Accuracy, u.Iters)
			}
		}
	}
	return ""
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// rank is how many logits of row beat label's (ties to the lower index).
func rank(row []float32, label int) int {
	r := 0
	for j, v := range row {
		if v > row[label] || v == row[label] && j < label {
			r++
		}
	}
	return r
}

// countTop5 counts rows of logits whose label is among the 5 largest.
func countTop5(logits *runtime.Tensor, want []int) int {
	c, k := 0, logits.Shape[1]
	for i, w := range want {
		if rank(logits.Data[i*k:(i+1)*k], w) < 5 {
			c++
		}
	}
	return c
}

// countEqual counts rows of logits whose arg max equals want.
func countEqual(logits *runtime.Tensor, want []int) int {
	return runtime.CountTop1(logits.Data, logits.Shape[1], want)
}
