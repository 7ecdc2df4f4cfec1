package pgd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// linear is a model with logits = W·x, enough to know each gradient's sign.
type linear struct {
	k, d   int
	w      []float32 // k×d
	x      *nn.Tensor
	logits nn.Tensor
	dx     nn.Tensor
	modes  []nn.Mode
}

func (m *linear) Spec() *spec.Spec { return nil }
func (m *linear) Forward(x *nn.Tensor, mode nn.Mode) *nn.Tensor {
	m.modes = append(m.modes, mode)
	n := x.Shape[0]
	m.x = x
	m.logits = nn.Tensor{Shape: []int{n, m.k}, Data: make([]float32, n*m.k)}
	for i := 0; i < n; i++ {
		for j := 0; j < m.k; j++ {
			var s float32
			for t := 0; t < m.d; t++ {
				s += m.w[j*m.d+t] * x.Data[i*m.d+t]
			}
			m.logits.Data[i*m.k+j] = s
		}
	}
	return &m.logits
}
func (m *linear) Backward(dl *nn.Tensor, _ nn.Grads) {
	n := dl.Shape[0]
	m.dx = nn.Tensor{Shape: m.x.Shape, Data: make([]float32, n*m.d)}
	for i := 0; i < n; i++ {
		for t := 0; t < m.d; t++ {
			var s float32
			for j := 0; j < m.k; j++ {
				s += dl.Data[i*m.k+j] * m.w[j*m.d+t]
			}
			m.dx.Data[i*m.d+t] = s
		}
	}
}
func (m *linear) InputGrad() *nn.Tensor      { return &m.dx }
func (m *linear) Params() []*nn.Param        { return nil }
func (m *linear) NormState() []*nn.NormStats { return nil }

func newLinear(k, d int, rng *rand.Rand) *linear {
	m := &linear{k: k, d: d, w: make([]float32, k*d)}
	for i := range m.w {
		m.w[i] = float32(rng.NormFloat64())
	}
	return m
}

func TestParseFraction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.3", 0.3, true}, {"16/255", 16.0 / 255, true}, {" 1 / 255 ", 1.0 / 255, true}, {"0", 0, true},
		{"", 0, false}, {"1/0", 0, false}, {"a/2", 0, false}, {"-1", 0, false}, {"NaN", 0, false}, {"Inf", 0, false},
	} {
		got, err := ParseFraction(tc.in)
		if (err == nil) != tc.ok || (tc.ok && math.Abs(got-tc.want) > 1e-15) {
			t.Errorf("ParseFraction(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestEffectiveStep(t *testing.T) {
	c := Config{Eps: 16.0 / 255, Step: 1.0 / 255}
	for _, tc := range []struct {
		steps int
		want  float64
	}{{5, 16.0 / 255 / 5}, {10, 1.6 / 255}, {16, 1.0 / 255}, {2000, 1.0 / 255}} {
		c.Steps = tc.steps
		if got := c.EffectiveStep(); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("steps %d: step %v, want %v", tc.steps, got, tc.want)
		}
	}
}

func TestTargetsNeverTheLabelAndUniform(t *testing.T) {
	a := New(Config{}, rand.New(rand.NewPCG(1, 1)))
	const k, n = 5, 50000
	y := make([]int, n)
	for i := range y {
		y[i] = i % k
	}
	count := make([]int, k)
	for i, tg := range a.Targets(y, k) {
		if tg == y[i] || tg < 0 || tg >= k {
			t.Fatalf("target %d for label %d", tg, y[i])
		}
		count[(tg-y[i]+k)%k]++
	}
	for off := 1; off < k; off++ {
		if f := float64(count[off]) / n; math.Abs(f-0.25) > 0.01 {
			t.Errorf("offset %d drawn %.3f of the time, want 0.25", off, f)
		}
	}
}

func TestStartStaysInBallAndCoin(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x0 := nn.NewTensor(4, 1, 3, 3)
	for i := range x0.Data {
		x0.Data[i] = float32(i%3) / 2 // 0, 0.5, 1: hits both pixel bounds
	}
	a := New(Config{Eps: 0.3, CleanStart: 0.2}, rng)
	clean := 0
	const trials = 5000
	for range trials {
		x := a.Start(x0)
		same := true
		for i, v := range x.Data {
			if v < max(x0.Data[i]-0.3, 0) || v > min(x0.Data[i]+0.3, 1) {
				t.Fatalf("start %v outside the ball around %v", v, x0.Data[i])
			}
			same = same && v == x0.Data[i]
		}
		if same {
			clean++
		}
	}
	if f := float64(clean) / trials; math.Abs(f-0.2) > 0.02 {
		t.Errorf("clean start %.3f of the time, want 0.2", f)
	}
}

// With a linear model each sign step is known: targeted descends the
// target's cross-entropy, untargeted ascends the label's.
func TestStepDirectionAndProjection(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	m := newLinear(3, 8, rng)
	x0 := nn.NewTensor(2, 1, 2, 4)
	for i := range x0.Data {
		x0.Data[i] = float32(rng.Float64())
	}
	y := []int{0, 2}
	for _, loss := range []Loss{Targeted, Untargeted, CW} {
		a := New(Config{Eps: 0.05, Step: 0.02, Steps: 10, Loss: loss}, rng)
		x := a.Start(x0)
		ce := func() float64 { // mean CE of y at x
			l := m.Forward(x, nn.Mode{})
			s := 0.0
			for i, yi := range y {
				row := l.Data[i*3 : i*3+3]
				lse := 0.0
				for _, v := range row {
					lse += math.Exp(float64(v))
				}
				s += math.Log(lse) - float64(row[yi])
			}
			return s
		}
		before := ce()
		for range 10 {
			a.Step(m, x, y, a.EffectiveStep())
		}
		after := ce()
		if loss == Targeted && after >= before {
			t.Errorf("targeted: CE of the target went %v -> %v, want down", before, after)
		}
		if loss != Targeted && after <= before {
			t.Errorf("%s: CE of the label went %v -> %v, want up", loss, before, after)
		}
		for i, v := range x.Data {
			if v < max(x0.Data[i]-0.05, 0)-1e-7 || v > min(x0.Data[i]+0.05, 1)+1e-7 {
				t.Fatalf("%s: iterate %v left the ball around %v", loss, v, x0.Data[i])
			}
		}
	}
}

func TestAttackUsesInferenceAndAdvBranch(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	m := newLinear(3, 4, rng)
	x0 := nn.NewTensor(1, 1, 2, 2)
	a := New(Config{Eps: 0.1, Steps: 3, Norm: nn.RunningStats, Branch: nn.Adv}, rng)
	a.Attack(m, x0, []int{1}, 3)
	if len(m.modes) != 3 {
		t.Fatalf("%d forward passes, want 3", len(m.modes))
	}
	for _, md := range m.modes {
		if md.Norm != nn.RunningStats || md.Branch != nn.Adv || md.UpdateStats {
			t.Errorf("attack ran in mode %+v", md)
		}
	}
}

func TestSeededAttacksRepeat(t *testing.T) {
	m := newLinear(4, 6, rand.New(rand.NewPCG(5, 5)))
	x0 := nn.NewTensor(3, 1, 2, 3)
	run := func() []float32 {
		a := New(Config{Eps: 0.2, Step: 0.05, Steps: 4}, rand.New(rand.NewPCG(9, 9)))
		x, _ := a.Attack(m, x0, []int{0, 1, 2}, 4)
		return x.Data
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different adversarial pixel %d: %v vs %v", i, a[i], b[i])
		}
	}
}
