// Package eval measures a model's clean accuracy and its accuracy under
// PGD attacks of several iteration counts, reusing one trajectory for all
// counts that share an effective step.
package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/progress"
)

// Protocol says how a Point counts, for the readers of a result:
// Accuracy and TargetSuccess count every iterate, FinalAccuracy and
// FinalTargetSuccess the K-th only.
const Protocol = "accuracy: correct clean and at every PGD iterate up to K, every restart; final_accuracy: correct at the K-th iterate, every restart (the paper's)"

// Config is an evaluation.
type Config struct {
	// Attack is the attack; Steps is ignored (Iters lists them) and
	// CleanStart too: an evaluation always starts at a random point of
	// the ε-cube.
	Attack pgd.Config
	Iters  []int // PGD iteration counts, e.g. 10, 100, 2000 (none: clean accuracy only)
	Batch  int
	Limit  int // evaluate the first Limit images (0: all)
	Seed   uint64
	Branch nn.Branch // MBN branch for the predictions and the attack
	// Restarts is how many random starts each image gets (0 means 1).
	Restarts int
	Quiet    bool // no progress bar
	// Locate, if not nil, names the first layer whose output is not
	// finite when an evaluation pass meets a NaN or an infinity.
	Locate Locator
}

// Locator runs the one image x (1×C×H×W) through m's weights layer by
// layer in mode and describes the first layer whose output is not
// finite.
type Locator func(m nn.Model, x *nn.Tensor, mode nn.Mode) (string, error)

// Validate reports the first setting Run cannot work with.
func (c *Config) Validate() error {
	switch {
	case c.Batch <= 0:
		return fmt.Errorf("eval: batch %d must be positive", c.Batch)
	case c.Restarts < 0:
		return fmt.Errorf("eval: restarts %d must be >= 0", c.Restarts)
	case c.Limit < 0:
		return fmt.Errorf("eval: limit %d must be >= 0", c.Limit)
	}
	for _, k := range c.Iters {
		if k < 1 {
			return fmt.Errorf("eval: PGD iterations %d must be >= 1", k)
		}
	}
	return nil
}

// Point is the result of PGD-K.
type Point struct {
	Iters int     `json:"iters"`
	Step  float64 `json:"step"` // effective step size
	// Accuracy is the share of images classified correctly clean and at
	// every iterate up to the K-th (the random start included) of every
	// restart, and of every shorter attack of the same evaluation whose
	// effective step differs: no attack of at most K iterations that the
	// evaluation ran broke them. It never exceeds the clean accuracy and
	// never rises with K.
	Accuracy float64 `json:"accuracy"`
	// FinalAccuracy is the paper's protocol: the share classified
	// correctly at the K-th iterate of every restart.
	FinalAccuracy float64 `json:"final_accuracy"`
	// TargetSuccess (targeted attacks only) is the share classified as
	// their target at some iterate that Accuracy looks at;
	// FinalTargetSuccess the share classified so at the K-th iterate of
	// some restart.
	TargetSuccess      float64 `json:"target_success,omitempty"`
	FinalTargetSuccess float64 `json:"final_target_success,omitempty"`
	// Top5 and FinalTop5 (models with more than 5 classes) are Accuracy
	// and FinalAccuracy with "correct" meaning "the label is among the 5
	// largest logits".
	Top5      float64 `json:"top5_accuracy,omitempty"`
	FinalTop5 float64 `json:"final_top5_accuracy,omitempty"`
}

// AttackResult is one attack loss's part of an evaluation.
type AttackResult struct {
	Attack   string  `json:"attack"` // the loss: targeted, untargeted or cw
	Eps      float64 `json:"eps"`
	Step     float64 `json:"step"`        // the step asked for; each point has its effective one
	Norm     string  `json:"attack_norm"` // BN statistics while attacking: running or batch
	Seed     uint64  `json:"seed"`
	Restarts int     `json:"restarts"`
	Curve    []Point `json:"pgd"`
	// Warnings are the self-checks that failed, on the paper-protocol
	// column (FinalAccuracy): accuracy rising with K, a curve still
	// falling at its largest K.
	Warnings []string `json:"warnings,omitempty"`
}

// Result is an evaluation's outcome under one attack loss.
type Result struct {
	Images    int     `json:"images"`
	Clean     float64 `json:"clean_accuracy"`
	CleanTop5 float64 `json:"clean_top5_accuracy,omitempty"`
	Branch    string  `json:"branch"`
	Protocol  string  `json:"protocol"` // how the points count: the constant Protocol
	AttackResult
}

// NonFiniteError is a NaN or an infinity met by an evaluation pass, in
// the logits of an image or in the input gradient of an attack step.
type NonFiniteError struct {
	Model string
	Image int    // in the test set
	Batch [2]int // the test images of its batch: [first, last]
	Pass  string // "the clean pass", "PGD iterate 3 (untargeted, step 0.1, restart 1 of 1)"
	What  string // "logits" or "input gradient"
	// Layer says which layer's output is first not finite, when a
	// Locator could tell.
	Layer string
}

func (e *NonFiniteError) Error() string {
	msg := fmt.Sprintf("eval: %s: test image %d (batch of images %d-%d): its %s in %s hold a NaN or an infinity, though the weights are finite",
		e.Model, e.Image, e.Batch[0], e.Batch[1], e.What, e.Pass)
	if e.Layer != "" {
		msg += "; " + e.Layer
	}
	return msg
}

// locate completes e, the error for image i of a batch whose input is
// xi (nil: the backward pass made the value), with the layer whose output
// is first not finite, which locator (if not nil) finds by running the
// image alone through m in mode, and returns it.
func locate(locator Locator, m nn.Model, mode nn.Mode, e *NonFiniteError, xi *nn.Tensor, i int) *NonFiniteError {
	switch {
	case xi == nil:
		e.Layer = "the forward pass was finite: the backward pass made it"
		return e
	case locator == nil:
		e.Layer = "netc eval names the first layer whose output is not finite"
		return e
	}
	shape := slices.Clone(xi.Shape)
	shape[0] = 1
	size := 1
	for _, n := range shape[1:] {
		size *= n
	}
	one := &nn.Tensor{Shape: shape, Data: slices.Clone(xi.Data[i*size : (i+1)*size])}
	layer, err := locator(m, one, mode)
	if err != nil {
		layer = fmt.Sprintf("the first layer whose output is not finite is unknown: %v", err)
	}
	e.Layer = layer
	return e
}

// InterruptedError is an evaluation stopped by its context: it wraps
// the context's error (context.Canceled, context.DeadlineExceeded).
type InterruptedError struct {
	Batch  [2]int // the test images of the batch it stopped in: [first, last]
	Images int    // the images it was to evaluate
	Cause  error  // context.Cause: for a signal, which one
	err    error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("eval: interrupted (%v) in the batch of test images %d-%d of %d", e.Cause, e.Batch[0], e.Batch[1], e.Images)
}

func (e *InterruptedError) Unwrap() error { return e.err }

// Run evaluates m on d: its clean accuracy and, for each count of
// c.Iters, its accuracy under PGD (Point). It refuses a model whose
// weights are not finite, and stops at the first NaN or infinity in any
// pass (a *NonFiniteError).
func Run(m nn.Model, d *data.Dataset, c Config) (*Result, error) {
	return RunContext(context.Background(), m, d, c)
}

// RunContext is Run that stops, with an error wrapping ctx's, as soon as
// ctx is done: before each batch and each PGD iterate. An interrupted
// evaluation has no result (a share of the images is not comparable
// with a whole one).
func RunContext(ctx context.Context, m nn.Model, d *data.Dataset, c Config) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n := d.Len()
	if c.Limit > 0 && c.Limit < n {
		n = c.Limit
	}
	if n == 0 {
		return nil, fmt.Errorf("eval: %s has no images", d.Name)
	}
	if err := nn.CheckFinite(m); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", m.Spec().Model, err)
	}
	iters := slices.Clone(c.Iters)
	slices.Sort(iters)
	iters = slices.Compact(iters)
	att := c.Attack
	att.CleanStart = 0
	att.Branch = c.Branch
	targeted := att.Loss == pgd.Targeted
	if targeted && len(iters) > 0 && d.Classes < 2 {
		return nil, fmt.Errorf("eval: a targeted attack needs 2 classes or more, %s has %d", d.Name, d.Classes)
	}
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
	res := &Result{Images: n, Branch: c.Branch.String(), Protocol: Protocol, AttackResult: AttackResult{
		Attack: att.Loss.String(), Eps: att.Eps, Step: att.Step, Norm: att.Norm.String(), Seed: c.Seed, Restarts: restarts}}
	top5 := d.Classes > 5
	// Per count K, images that count: correct (Accuracy), hit
	// (TargetSuccess), label in the top 5 (Top5), and the same at the
	// K-th iterate only.
	correct, hit, inTop5 := map[int]int{}, map[int]int{}, map[int]int{}
	finalCorrect, finalHit, finalTop5 := map[int]int{}, map[int]int{}, map[int]int{}
	clean, cleanTop5 := 0, 0
	var bar *progress.Bar
	if !c.Quiet {
		bar = progress.New("eval", n, "img")
	}
	batch := min(c.Batch, n) // no buffer larger than the images
	x0 := nn.NewTensor(batch, d.C, d.H, d.W)
	y := make([]int, batch)
	idx := make([]int, batch)
	inference := nn.Mode{Norm: nn.RunningStats, Branch: c.Branch, InputOnly: true}
	const never = math.MaxInt
	// Per image of a batch: still counted by Accuracy (Top5) after the
	// groups so far, hit in them; the first iterate of the group's
	// restarts that is wrong (out of the top 5, on target); at each K of
	// the group, correct (top 5) in every restart, on target in one.
	alive, alive5, hitSoFar := make([]bool, batch), make([]bool, batch), make([]bool, batch)
	wrong, out5, onTarget := make([]int, batch), make([]int, batch), make([]int, batch)
	atK, atK5, atKHit := map[int][]bool{}, map[int][]bool{}, map[int][]bool{}
	for _, k := range iters {
		atK[k], atK5[k], atKHit[k] = make([]bool, batch), make([]bool, batch), make([]bool, batch)
	}
	for lo := 0; lo < n; lo += batch {
		b := min(batch, n-lo)
		// interrupted is the error of an evaluation stopped by ctx in
		// this batch, nil while it runs on.
		interrupted := func() error {
			select {
			case <-ctx.Done():
				return &InterruptedError{Batch: [2]int{lo, lo + b - 1}, Images: n, Cause: context.Cause(ctx), err: ctx.Err()}
			default:
				return nil
			}
		}
		if err := interrupted(); err != nil {
			return nil, err
		}
		for i := range b {
			idx[i] = lo + i
		}
		x := &nn.Tensor{Shape: []int{b, d.C, d.H, d.W}, Data: x0.Data[:b*d.C*d.H*d.W]}
		d.Batch(idx[:b], x.Data, y[:b])
		nonFinite := func(what, pass string, i int, xi *nn.Tensor) error {
			return locate(c.Locate, m, inference, &NonFiniteError{Model: m.Spec().Model, Image: lo + i, Batch: [2]int{lo, lo + b - 1}, Pass: pass, What: what}, xi, i)
		}
		logits := m.Forward(x, inference)
		nc := logits.Shape[1]
		if j := nn.FirstNonFinite(logits.Data); j >= 0 {
			return nil, nonFinite("logits", "the clean pass", j/nc, x)
		}
		for i := range b {
			row := logits.Data[i*nc : (i+1)*nc]
			alive[i] = argmax(row) == y[i]
			alive5[i] = rank(row, y[i]) < 5
			hitSoFar[i] = false
			clean += b2i(alive[i])
			cleanTop5 += b2i(alive5[i])
		}
		var targets []int
		if targeted && len(groups) > 0 {
			// One target per image for every trajectory, drawn from the
			// seed and the batch only.
			targets = pgd.New(att, rand.New(rand.NewPCG(c.Seed, uint64(lo)|1<<63))).Targets(y[:b], d.Classes)
		}
		follow := y[:b]
		if targets != nil {
			follow = targets
		}
		for _, g := range groups {
			for i := range b {
				wrong[i], out5[i], onTarget[i] = never, never, never
			}
			for _, k := range g.iters {
				for i := range b {
					atK[k][i], atK5[k][i], atKHit[k][i] = true, true, false
				}
			}
			last := g.iters[len(g.iters)-1]
			for r := range restarts {
				// Draws depend on the seed, the batch, the step and the
				// restart only, so a trajectory does not change with the
				// other counts asked for.
				attacker := pgd.New(att, rand.New(rand.NewPCG(c.Seed^math.Float64bits(g.step), uint64(lo)+uint64(r)<<40)))
				xa := attacker.Start(x)
				next := 0
				err := attacker.Trajectory(m, xa, follow, g.step, last, func(s int, logits *nn.Tensor) error {
					if j := nn.FirstNonFinite(logits.Data); j >= 0 {
						return nonFinite("logits", iterate(att.Loss, s, g.step, r, restarts), j/nc, xa)
					}
					if err := interrupted(); err != nil {
						return err
					}
					due := next < len(g.iters) && g.iters[next] == s
					for i := range b {
						row := logits.Data[i*nc : (i+1)*nc]
						pred := argmax(row)
						if pred != y[i] {
							wrong[i] = min(wrong[i], s)
						}
						in5 := !top5 || rank(row, y[i]) < 5
						if !in5 {
							out5[i] = min(out5[i], s)
						}
						if targets != nil && pred == targets[i] {
							onTarget[i] = min(onTarget[i], s)
						}
						if due {
							k := g.iters[next]
							atK[k][i] = atK[k][i] && pred == y[i]
							atK5[k][i] = atK5[k][i] && in5
							atKHit[k][i] = atKHit[k][i] || targets != nil && pred == targets[i]
						}
					}
					if due {
						next++
					}
					return nil
				})
				var ge *pgd.GradientError
				if errors.As(err, &ge) {
					return nil, nonFinite("input gradient", iterate(att.Loss, ge.Iterate, g.step, r, restarts), ge.Image, nil)
				}
				if err != nil {
					return nil, err
				}
			}
			for _, k := range g.iters {
				for i := range b {
					correct[k] += b2i(alive[i] && wrong[i] > k)
					inTop5[k] += b2i(alive5[i] && out5[i] > k)
					hit[k] += b2i(hitSoFar[i] || onTarget[i] <= k)
					finalCorrect[k] += b2i(atK[k][i])
					finalTop5[k] += b2i(atK5[k][i])
					finalHit[k] += b2i(atKHit[k][i])
				}
			}
			// The larger counts of the next groups also count every
			// iterate of this group's trajectories.
			for i := range b {
				alive[i] = alive[i] && wrong[i] > last
				alive5[i] = alive5[i] && out5[i] > last
				hitSoFar[i] = hitSoFar[i] || onTarget[i] <= last
			}
		}
		if bar != nil {
			bar.Add(b, fmt.Sprintf("clean %.2f%%", 100*float64(clean)/float64(lo+b)))
		}
	}
	if bar != nil {
		bar.Done("")
	}
	share := func(count int) float64 { return float64(count) / float64(n) }
	res.Clean = share(clean)
	if top5 {
		res.CleanTop5 = share(cleanTop5)
	}
	for _, g := range groups {
		for _, k := range g.iters {
			p := Point{Iters: k, Step: g.step, Accuracy: share(correct[k]), FinalAccuracy: share(finalCorrect[k])}
			if targeted {
				p.TargetSuccess, p.FinalTargetSuccess = share(hit[k]), share(finalHit[k])
			}
			if top5 {
				p.Top5, p.FinalTop5 = share(inTop5[k]), share(finalTop5[k])
			}
			res.Curve = append(res.Curve, p)
		}
	}
	res.Warnings = selfCheck(res.Curve, n)
	return res, nil
}

// iterate names PGD iterate s of an attack for a diagnosis.
func iterate(loss pgd.Loss, s int, step float64, r, restarts int) string {
	return fmt.Sprintf("PGD iterate %d (%s, step %.4g, restart %d of %d)", s, loss, step, r+1, restarts)
}

// selfCheck lists what is wrong with a curve over n images, on the
// paper-protocol column (Accuracy never rises by construction): accuracy
// that rises with more iterations (a weak or unstable attack), and a
// curve still falling at its largest count by more than one image and
// 0.5 points (not yet asymptotic).
func selfCheck(curve []Point, n int) []string {
	var w []string
	for i := 1; i < len(curve); i++ {
		a, b := curve[i-1], curve[i]
		if b.FinalAccuracy > a.FinalAccuracy {
			w = append(w, fmt.Sprintf("accuracy at the K-th iterate rises from %.2f%% at PGD-%d to %.2f%% at PGD-%d: the attack does not converge (step size?)",
				100*a.FinalAccuracy, a.Iters, 100*b.FinalAccuracy, b.Iters))
		}
	}
	if l := len(curve); l >= 2 {
		a, b := curve[l-2], curve[l-1]
		if drop := a.FinalAccuracy - b.FinalAccuracy; drop > 0.005 && drop*float64(n) > 1 {
			w = append(w, fmt.Sprintf("accuracy at the K-th iterate still falls from %.2f%% at PGD-%d to %.2f%% at PGD-%d: not asymptotic, evaluate more iterations",
				100*a.FinalAccuracy, a.Iters, 100*b.FinalAccuracy, b.Iters))
		}
	}
	return w
}

// Masking compares an untargeted and a targeted evaluation of the same
// model: untargeted PGD is the stronger attack on accuracy, so a higher
// untargeted accuracy (either column) at a count both have hints at
// gradient masking. It returns the warning, or "".
func Masking(untargeted, targeted *Result) string {
	for _, u := range untargeted.Curve {
		for _, t := range targeted.Curve {
			if u.Iters != t.Iters {
				continue
			}
			switch {
			case u.Accuracy > t.Accuracy:
				return fmt.Sprintf("untargeted accuracy %.2f%% exceeds targeted %.2f%% at PGD-%d: a sign of gradient masking",
					100*u.Accuracy, 100*t.Accuracy, u.Iters)
			case u.FinalAccuracy > t.FinalAccuracy:
				return fmt.Sprintf("untargeted accuracy at the K-th iterate %.2f%% exceeds targeted %.2f%% at PGD-%d: a sign of gradient masking",
					100*u.FinalAccuracy, 100*t.FinalAccuracy, u.Iters)
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
func countTop5(logits *nn.Tensor, want []int) int {
	c, k := 0, logits.Shape[1]
	for i, w := range want {
		if rank(logits.Data[i*k:(i+1)*k], w) < 5 {
			c++
		}
	}
	return c
}
