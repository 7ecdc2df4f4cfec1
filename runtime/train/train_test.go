package train

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/spec"
)

const tinySpec = `model tiny
input 1 8 8
classes 3
stem cifar
block basic
stages 1 1 1
width 4
`

func quadrants(n int, seed uint64) *data.Dataset { return data.Synthetic(n, 1, 8, 8, 3, seed) }

func newRun(t testing.TB, dir string, c Config) *Run {
	t.Helper()
	r, err := tryRun(t, dir, tinySpec, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func advConfig(epochs int) Config {
	c := Defaults(16)
	c.Epochs, c.Seed, c.LR = epochs, 7, 0.05
	c.Adversarial, c.CleanRatio = true, 0.5
	c.Attack = pgd.Config{Eps: 0.1, Step: 0.05, Steps: 2, CleanStart: 0.2}
	return c
}

// A run stopped after one epoch and resumed gives bitwise the parameters
// of an uninterrupted run: checkpoints hold the optimizer and RNG state.
func TestResumeIsExact(t *testing.T) {
	whole := newRun(t, t.TempDir(), advConfig(2))
	if err := whole.Train(context.Background()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	first := newRun(t, dir, advConfig(1))
	if err := first.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	resumed := newRun(t, dir, advConfig(2))
	if resumed.state.Epoch != 1 {
		t.Fatalf("resumed at epoch %d, want 1", resumed.state.Epoch)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameParams(t, whole.Model, resumed.Model)
	lines, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(lines), "\n"); n != 2 {
		t.Errorf("metrics.jsonl has %d lines, want 2", n)
	}
}

// sameParams fails the test unless the uninterrupted run's parameters
// equal the resumed run's bit for bit.
func sameParams(t *testing.T, whole, resumed nn.Model) {
	t.Helper()
	for i, p := range whole.Params() {
		q := resumed.Params()[i]
		for j := range p.Value.Data {
			if p.Value.Data[j] != q.Value.Data[j] {
				t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", p.Name, j, p.Value.Data[j], q.Value.Data[j])
			}
		}
	}
}

// stopAfter is a context that is done after n checks of Err.
type stopAfter struct {
	context.Context
	n int
}

func (c *stopAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// A run stopped in the middle of an epoch checkpoints where it stands and
// resumes exactly there.
func TestStopMidEpochResumesExactly(t *testing.T) {
	whole := newRun(t, t.TempDir(), advConfig(2))
	if err := whole.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, stop := range []int{3, 4} { // 6 steps an epoch: stop in epoch 1, then in epoch 2
		r := newRun(t, dir, advConfig(2))
		if err := r.Train(&stopAfter{context.Background(), stop}); !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped run: %v, want context.Canceled", err)
		}
		r.Close()
	}
	resumed := newRun(t, dir, advConfig(2))
	if resumed.state.Epoch != 1 || resumed.state.InEpoch != 1 {
		t.Fatalf("resumed at epoch %d step %d, want 1, 1", resumed.state.Epoch, resumed.state.InEpoch)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameParams(t, whole.Model, resumed.Model)
	got, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	want, _ := os.ReadFile(filepath.Join(whole.Dir, "metrics.jsonl"))
	if strip(got) != strip(want) {
		t.Errorf("metrics differ:\n%s\nuninterrupted:\n%s", got, want)
	}
}

// cancelling is a model that cancels a context at its n-th forward pass
// and counts the passes after that one.
type cancelling struct {
	nn.Model
	n, after int
	cancel   func()
}

func (c *cancelling) Forward(x *nn.Tensor, m nn.Mode) *nn.Tensor {
	if c.n--; c.n == 0 {
		c.cancel()
	} else if c.n < 0 {
		c.after++
	}
	return c.Model.Forward(x, m)
}

// An interrupt in the middle of a training step's attack stops the run
// at once, not after the attack and the step (an attack of many steps
// held off Ctrl-C for as long as it ran), and the checkpoint is the state
// before the step, from which the run resumes exactly.
func TestStopDuringAttackResumesExactly(t *testing.T) {
	c := advConfig(1)
	c.Attack.Steps = 4
	whole := newRun(t, t.TempDir(), c)
	if err := whole.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := newRun(t, dir, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &cancelling{Model: r.Model, n: 4 + 1 + 2, cancel: cancel} // step 1: 4 attack passes and 1 training pass; then the 2nd attack pass of step 2
	r.Model = m
	if err := r.Train(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	if m.after != 0 {
		t.Errorf("%d forward passes after the interrupt, want 0", m.after)
	}
	r.Close()
	resumed := newRun(t, dir, c)
	if resumed.state.Epoch != 0 || resumed.state.InEpoch != 1 {
		t.Fatalf("resumed at epoch %d step %d, want 0, 1", resumed.state.Epoch, resumed.state.InEpoch)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameParams(t, whole.Model, resumed.Model)
}

// strip drops the timing fields of metrics.jsonl lines.
func strip(b []byte) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m Metrics
		json.Unmarshal([]byte(line), &m)
		m.ImagesPerS, m.Seconds = 0, 0
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

func TestResumeRefusesOtherSettings(t *testing.T) {
	dir := t.TempDir()
	first := newRun(t, dir, advConfig(1))
	if err := first.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	c := advConfig(1)
	c.LR *= 2
	s, _ := spec.Parse("tiny.spec", []byte(tinySpec))
	m, _ := interp.NewModel(s, 1)
	r := &Run{Dir: dir, Config: c, Model: m, Data: quadrants(96, 1), Quiet: true}
	if err := r.Start(); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Fatalf("resuming with another lr: %v, want an error", err)
	}
}

func TestLearnsQuadrants(t *testing.T) {
	c := Defaults(16)
	c.Epochs, c.Seed, c.LR, c.Smoothing = 6, 3, 0.1, 0
	r := newRun(t, t.TempDir(), c)
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	acc := Accuracy(r.Model, quadrants(60, 2), 0, 20, nn.Mode{Norm: nn.RunningStats})
	if acc < 0.9 {
		t.Errorf("test accuracy %.2f after training, want >= 0.9", acc)
	}
}

func TestNonFiniteStops(t *testing.T) {
	c := Defaults(16)
	c.LR = 1e30
	c.Epochs = 3
	r := newRun(t, t.TempDir(), c)
	err := r.Train(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "--lr") {
		t.Fatalf("got %v, want a non-finite diagnosis suggesting a lower --lr", err)
	}
}

func TestRestoreChecksTensors(t *testing.T) {
	dir := t.TempDir()
	r := newRun(t, dir, Defaults(16))
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	ck, err := OpenCheckpoint(r.CheckpointPath())
	if err != nil {
		t.Fatal(err)
	}
	other, err := spec.Parse("wide.spec", []byte(strings.Replace(tinySpec, "width 4", "width 8", 1)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(other, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = ck.Restore(m, nil)
	if err == nil || !strings.Contains(err.Error(), r.CheckpointPath()) || !strings.Contains(err.Error(), "conv1.weight") {
		t.Fatalf("restoring into a wider model: %v; want an error naming the file and tensor", err)
	}
	if ck.Meta.Spec == "" || ck.Meta.Config.Batch != 16 {
		t.Errorf("metadata lost: %+v", ck.Meta)
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{Peak: 0.4, Warmup: 2, Decay: []float64{10, 20}, Factor: 0.1}
	for _, tc := range []struct{ e, want float64 }{{0, 0}, {1, 0.2}, {2, 0.4}, {9.9, 0.4}, {10, 0.04}, {25, 0.004}} {
		if got := s.At(tc.e); got < tc.want*0.999999 || got > tc.want*1.000001 {
			t.Errorf("lr at epoch %v = %v, want %v", tc.e, got, tc.want)
		}
	}
}

func TestSGDMatchesPyTorchFormula(t *testing.T) {
	p := &nn.Param{Name: "w", Value: &nn.Tensor{Data: []float32{1, -2}}, Grad: &nn.Tensor{Data: []float32{0.5, 0.25}}, Decay: true}
	o := NewSGD([]*nn.Param{p}, 0.9, 0.1, true)
	o.Step([]*nn.Param{p}, 0.1, nil)
	// d = g + wd·w = (0.6, 0.05); v = d; nesterov step d + 0.9·v = 1.9·d.
	want := []float32{1 - 0.1*1.9*0.6, -2 - 0.1*1.9*0.05}
	for i := range want {
		if d := p.Value.Data[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, p.Value.Data[i], want[i])
		}
	}
}

func TestLogitPairing(t *testing.T) {
	// Two pairs of two logits: distances² 1+4 and 0+9, mean 7, weight 0.5.
	zc := []float32{1, 2, 3, 0}
	za := []float32{0, 0, 3, 3}
	dzc := []float32{10, 10, 10, 10}
	dza := make([]float32, 4)
	if got := LogitPairing(2, 2, zc, za, 0.5, dzc, dza); got != 3.5 {
		t.Errorf("loss %v, want 3.5", got)
	}
	// d/dzc = 2·0.5/2·(zc−za), added to what was there.
	if want := []float32{10.5, 11, 10, 8.5}; !slices.Equal(dzc, want) {
		t.Errorf("dzc %v, want %v", dzc, want)
	}
	if want := []float32{-0.5, -1, 0, 1.5}; !slices.Equal(dza, want) {
		t.Errorf("dza %v, want %v", dza, want)
	}
}

func TestALPNeedsCleanImages(t *testing.T) {
	c := Defaults(8)
	c.Adversarial, c.Attack = true, pgd.Config{Eps: 0.1, Step: 0.05, Steps: 1}
	c.ALP = 0.5
	if err := c.Validate(); err == nil {
		t.Error("ALP without clean images validated")
	}
	c.CleanRatio = 0.5
	if err := c.Validate(); err != nil {
		t.Errorf("ALP with half clean images: %v", err)
	}
}

// TestALPEntersTheStep trains the same run with and without logit
// pairing: the weights must differ.
func TestALPEntersTheStep(t *testing.T) {
	plain := newRun(t, t.TempDir(), advConfig(1))
	c := advConfig(1)
	c.ALP = 1
	paired := newRun(t, t.TempDir(), c)
	for _, r := range []*Run{plain, paired} {
		if err := r.Train(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	same := true
	for i, p := range plain.Model.Params() {
		if !slices.Equal(p.Value.Data, paired.Model.Params()[i].Value.Data) {
			same = false
		}
	}
	if same {
		t.Error("ALP changed no weight")
	}
}

// TestNormOnlyTrainsNormLayers fine-tunes with NormOnly: every conv and
// linear weight keeps its initial value, the norm layers move, and so do
// the running statistics.
func TestNormOnlyTrainsNormLayers(t *testing.T) {
	c := advConfig(1)
	c.Adversarial, c.CleanRatio, c.NormOnly = false, 0, true
	r := newRun(t, t.TempDir(), c)
	s, err := spec.Parse("tiny.spec", []byte(tinySpec))
	if err != nil {
		t.Fatal(err)
	}
	init, err := interp.NewModel(s, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i, p := range r.Model.Params() {
		same := slices.Equal(p.Value.Data, init.Params()[i].Value.Data)
		if !p.Norm && !same {
			t.Errorf("%s moved", p.Name)
		}
		if p.Norm && !same {
			moved++
		}
	}
	if moved == 0 {
		t.Error("no norm parameter moved")
	}
	if slices.Equal(r.Model.NormState()[0].Mean, init.NormState()[0].Mean) {
		t.Error("running statistics did not move")
	}
}
