// Package pgd is netc's L∞ projected-gradient-descent attacker, with the
// semantics of the paper (and its IAT code): targeted by default, a random
// start in the ε-cube (or, in training, the clean image with some
// probability), sign steps of max(step, ε/N), projection and pixel clip in
// one.
package pgd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/ref"
)

// Loss is what an attack step follows.
type Loss int

const (
	// Targeted descends the cross-entropy of a random wrong target class.
	Targeted Loss = iota
	// Untargeted ascends the cross-entropy of the true class.
	Untargeted
	// CW ascends the Carlini-Wagner margin max_{j≠y} z_j − z_y (untargeted).
	CW
)

var lossNames = [...]string{"targeted", "untargeted", "cw"}

func (l Loss) String() string {
	if !l.Valid() {
		return fmt.Sprintf("loss(%d)", int(l))
	}
	return lossNames[l]
}

// Valid reports whether l is one of the losses (a checkpoint's metadata
// may hold any number).
func (l Loss) Valid() bool { return l >= 0 && int(l) < len(lossNames) }

// ParseLoss reads "targeted", "untargeted" or "cw".
func ParseLoss(s string) (Loss, error) {
	for i, n := range lossNames {
		if s == n {
			return Loss(i), nil
		}
	}
	return 0, fmt.Errorf("unknown attack %q (want targeted, untargeted or cw)", s)
}

// Config is an attack.
type Config struct {
	Eps   float64 // L∞ radius, pixels in [0,1]
	Step  float64 // step size; the effective step is max(Step, Eps/Steps)
	Steps int
	Loss  Loss
	// CleanStart is the probability, drawn once per batch, of starting at
	// the clean image instead of a uniform point of the ε-cube (training:
	// 0.2; evaluation: 0).
	CleanStart float64
	// Norm is how BN normalizes during the attack: RunningStats (default,
	// as IAT) or BatchStats (batch statistics, never updating the running
	// ones). MBN attacks with the adversarial branch.
	Norm nn.NormMode
	// Branch is the MBN branch the attack goes through.
	Branch nn.Branch
}

// Paper is the paper's attacker (IAT's): targeted, ε = 16/255, step
// 1/255, 30 steps, a clean start with probability 0.2 in training.
func Paper() Config {
	return Config{Eps: 16.0 / 255, Step: 1.0 / 255, Steps: 30, Loss: Targeted, CleanStart: 0.2}
}

// EffectiveStep is max(Step, Eps/Steps).
func (c Config) EffectiveStep() float64 {
	if c.Steps == 0 {
		return c.Step
	}
	return math.Max(c.Step, c.Eps/float64(c.Steps))
}

// ParseFraction reads a number such as "0.3", "16/255" or "1/255": a
// finite value >= 0 that fits a float32 (the attacker computes in
// float32), whose numerator and denominator are finite too.
func ParseFraction(s string) (float64, error) {
	num, den, ok := strings.Cut(s, "/")
	a, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(a) || math.IsInf(a, 0) {
		return 0, fmt.Errorf("bad number %q: want a finite value >= 0", s)
	}
	if ok {
		b, err := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err != nil || b == 0 || math.IsNaN(b) || math.IsInf(b, 0) {
			return 0, fmt.Errorf("bad fraction %q", s)
		}
		a /= b
	}
	switch {
	case math.IsNaN(a) || math.IsInf(a, 0) || a < 0:
		return 0, fmt.Errorf("bad number %q: want a finite value >= 0", s)
	case a > math.MaxFloat32:
		return 0, fmt.Errorf("bad number %q: over the float32 range (3.4e38)", s)
	}
	return a + 0, nil // -0 reads as 0
}

// Attacker runs attacks with one seeded random generator.
type Attacker struct {
	Config
	rng     *rand.Rand
	dlogits nn.Tensor
	lo, hi  []float32
	started bool // a Step ran since the last Start
}

// New returns an attacker drawing from rng.
func New(c Config, rng *rand.Rand) *Attacker { return &Attacker{Config: c, rng: rng} }

// Targets draws a target for each label: (y + U{1..k-1}) mod k, never y.
func (a *Attacker) Targets(y []int, k int) []int {
	t := make([]int, len(y))
	for i, yi := range y {
		t[i] = (yi + 1 + a.rng.IntN(k-1)) % k
	}
	return t
}

// Start begins an attack on the clean batch x0: it returns the first
// iterate, either x0 itself (with probability CleanStart, one coin for the
// batch) or x0 + U(−ε, ε) clipped to the pixel range. The model must not
// change until the attack's last Step: steps after the first tell it so
// (Mode.SameWeights).
func (a *Attacker) Start(x0 *nn.Tensor) *nn.Tensor {
	a.started = false
	x := nn.NewTensor(x0.Shape...)
	a.lo = grow(a.lo, x0.Len())
	a.hi = grow(a.hi, x0.Len())
	eps := float32(a.Eps)
	for i, v := range x0.Data {
		a.lo[i] = max(v-eps, 0)
		a.hi[i] = min(v+eps, 1)
	}
	if a.CleanStart > 0 && a.rng.Float64() < a.CleanStart {
		copy(x.Data, x0.Data)
		return x
	}
	for i, v := range x0.Data {
		d := float32((2*a.rng.Float64() - 1) * a.Eps)
		x.Data[i] = min(max(v+d, a.lo[i]), a.hi[i])
	}
	return x
}

// Step moves x one step of size alpha along the sign of the attack
// loss's gradient and projects it back into the ε-ball ∩ [0,1] of the
// batch given to Start. y holds the true labels (untargeted, CW) or the
// targets (targeted). It returns the logits at x before the step.
func (a *Attacker) Step(m nn.Model, x *nn.Tensor, y []int, alpha float64) *nn.Tensor {
	logits := a.forward(m, x)
	a.descend(m, logits, x, y, alpha)
	return logits
}

// forward is an attack step's forward pass.
func (a *Attacker) forward(m nn.Model, x *nn.Tensor) *nn.Tensor {
	logits := m.Forward(x, nn.Mode{Norm: a.Norm, Branch: a.Branch, InputOnly: true, SameWeights: a.started})
	a.started = true
	return logits
}

// descend is the rest of an attack step from the logits of x that
// forward returned: the loss's gradient, the backward pass and the sign
// step with its projection.
func (a *Attacker) descend(m nn.Model, logits, x *nn.Tensor, y []int, alpha float64) {
	n, k := logits.Shape[0], logits.Shape[1]
	a.dlogits.Shape = logits.Shape
	a.dlogits.Data = grow(a.dlogits.Data, n*k)
	dir := float32(alpha)
	switch a.Loss {
	case Targeted:
		ref.SoftmaxCrossEntropy(n, k, logits.Data, y, 0, a.dlogits.Data)
		dir = -dir
	case Untargeted:
		ref.SoftmaxCrossEntropy(n, k, logits.Data, y, 0, a.dlogits.Data)
	case CW:
		cwMarginGrad(n, k, logits.Data, y, a.dlogits.Data)
	}
	m.Backward(&a.dlogits, nn.InputOnly)
	g := m.InputGrad().Data
	for i, gi := range g {
		v := x.Data[i]
		switch {
		case gi > 0:
			v += dir
		case gi < 0:
			v -= dir
		}
		x.Data[i] = min(max(v, a.lo[i]), a.hi[i])
	}
}

// Inference is the mode in which an attack's iterates are classified:
// the frozen running statistics, through the attack's branch.
func (a *Attacker) Inference() nn.Mode {
	return nn.Mode{Norm: nn.RunningStats, Branch: a.Branch, InputOnly: true}
}

// GradientError is a NaN in the input gradient of an attack step: the
// sign step cannot follow it, so the attack would stand still there and
// the image would look robust.
type GradientError struct {
	Iterate int // the iterate whose gradient it is (0: the start point)
	Image   int // in the batch
}

func (e *GradientError) Error() string {
	return fmt.Sprintf("the input gradient of image %d of the batch at PGD iterate %d is NaN: the attack cannot follow it", e.Image, e.Iterate)
}

// Trajectory runs steps attack steps of size alpha from x, the point
// Start returned, toward follow (as Step does), and calls visit with the
// logits, in Inference mode, of every iterate: the start point (s = 0)
// and the result of each step (s = 1..steps). visit must not keep the
// logits nor run the model, and x holds the iterate while it runs. An
// error from visit stops the attack and is returned, as is a
// *GradientError.
func (a *Attacker) Trajectory(m nn.Model, x *nn.Tensor, follow []int, alpha float64, steps int, visit func(s int, logits *nn.Tensor) error) error {
	// Under running statistics the step's own forward pass is the
	// inference one: its logits classify the iterate for free.
	shared := a.Norm == nn.RunningStats
	size := x.Len() / max(x.Shape[0], 1)
	for s := 0; s < steps; s++ {
		if !shared {
			// The attack normalizes with batch statistics: classifying
			// the iterate as inference does takes a forward pass of its
			// own, one more per iterate.
			if err := visit(s, m.Forward(x, a.Inference())); err != nil {
				return err
			}
		}
		logits := a.forward(m, x)
		if shared {
			if err := visit(s, logits); err != nil {
				return err
			}
		}
		a.descend(m, logits, x, follow, alpha)
		if i := firstNaN(m.InputGrad().Data); i >= 0 {
			return &GradientError{Iterate: s, Image: i / size}
		}
	}
	return visit(steps, m.Forward(x, a.Inference()))
}

func firstNaN(v []float32) int {
	for i, x := range v {
		if x != x {
			return i
		}
	}
	return -1
}

// cwMarginGrad writes the gradient of max_{j≠y} z_j − z_y.
func cwMarginGrad(n, k int, z []float32, y []int, dz []float32) {
	clear(dz)
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		best := -1
		for j, v := range row {
			if j != y[i] && (best < 0 || v > row[best]) {
				best = j
			}
		}
		dz[i*k+best] = 1
		dz[i*k+y[i]] = -1
	}
}

// Attack runs a whole attack on the clean batch x0 with labels y (k
// classes) and returns the adversarial batch and, for targeted attacks, the
// targets (nil otherwise).
func (a *Attacker) Attack(m nn.Model, x0 *nn.Tensor, y []int, k int) (*nn.Tensor, []int) {
	x, targets, _ := a.AttackContext(context.Background(), m, x0, y, k)
	return x, targets
}

// AttackContext is Attack that gives up, returning ctx's error and no
// batch, as soon as ctx is done: it looks before every step, so that a
// long attack does not hold off an interrupt.
func (a *Attacker) AttackContext(ctx context.Context, m nn.Model, x0 *nn.Tensor, y []int, k int) (*nn.Tensor, []int, error) {
	var targets []int
	follow := y
	if a.Loss == Targeted {
		targets = a.Targets(y, k)
		follow = targets
	}
	x := a.Start(x0)
	alpha := a.EffectiveStep()
	for s := 0; s < a.Steps; s++ {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		default:
		}
		a.Step(m, x, follow, alpha)
	}
	return x, targets, nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
