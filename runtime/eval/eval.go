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
	Quiet  bool           // no progress bar
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
}

// Result is an evaluation's outcome.
type Result struct {
	Images int     `json:"images"`
	Clean  float64 `json:"clean_accuracy"`
	Attack string  `json:"attack"`
	Eps    float64 `json:"eps"`
	Seed   uint64  `json:"seed"`
	Curve  []Point `json:"pgd"`
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

	res := &Result{Images: n, Attack: att.Loss.String(), Eps: att.Eps, Seed: c.Seed}
	correct := make(map[int]int)
	hit := make(map[int]int)
	clean := 0
	var bar *progress.Bar
	if !c.Quiet {
		bar = progress.New("eval", n, "img")
	}
	x0 := runtime.NewTensor(c.Batch, d.C, d.H, d.W)
	y := make([]int, c.Batch)
	idx := make([]int, c.Batch)
	inference := runtime.Mode{Norm: runtime.RunningStats, Branch: c.Branch, InputOnly: true}
	for lo := 0; lo < n; lo += c.Batch {
		b := min(c.Batch, n-lo)
		for i := range b {
			idx[i] = lo + i
		}
		x := &runtime.Tensor{Shape: []int{b, d.C, d.H, d.W}, Data: x0.Data[:b*d.C*d.H*d.W]}
		d.Batch(idx[:b], x.Data, y[:b])
		clean += countEqual(m.Forward(x, inference), y[:b])
		for _, g := range groups {
			// Draws depend on the seed, the batch and the step only, so a
			// point of the curve does not change with the others asked for.
			attacker := pgd.New(att, rand.New(rand.NewPCG(c.Seed^math.Float64bits(g.step), uint64(lo))))
			follow, targets := y[:b], []int(nil)
			if att.Loss == pgd.Targeted {
				targets = attacker.Targets(y[:b], d.Classes)
				follow = targets
			}
			xa := attacker.Start(x)
			next, last := 0, g.iters[len(g.iters)-1]
			record := func(logits *runtime.Tensor) {
				k := g.iters[next]
				correct[k] += countEqual(logits, y[:b])
				if targets != nil {
					hit[k] += countEqual(logits, targets)
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
		if bar != nil {
			bar.Add(b, fmt.Sprintf("clean %.2f%%", 100*float64(clean)/float64(lo+b)))
		}
	}
	if bar != nil {
		bar.Done("")
	}
	res.Clean = float64(clean) / float64(n)
	for _, g := range groups {
		for _, k := range g.iters {
			p := Point{Iters: k, Step: g.step, Accuracy: float64(correct[k]) / float64(n)}
			if att.Loss == pgd.Targeted {
				p.TargetSuccess = float64(hit[k]) / float64(n)
			}
			res.Curve = append(res.Curve, p)
		}
	}
	return res, nil
}

// countEqual counts rows of logits whose arg max equals want.
func countEqual(logits *runtime.Tensor, want []int) int {
	return runtime.CountTop1(logits.Data, logits.Shape[1], want)
}
