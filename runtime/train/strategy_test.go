package train

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// recorder is a model that records every Forward of the trainer.
type recorder struct {
	nn.Model
	passes []pass
}

type pass struct {
	mode nn.Mode
	x    [][]float32 // the images
}

func (r *recorder) Forward(x *nn.Tensor, m nn.Mode) *nn.Tensor {
	n := x.Shape[0]
	size := len(x.Data) / n
	p := pass{mode: m}
	for i := range n {
		p.x = append(p.x, slices.Clone(x.Data[i*size:(i+1)*size]))
	}
	r.passes = append(r.passes, p)
	return r.Model.Forward(x, m)
}

// recorded trains one epoch of c on a tiny net with norm on 64 synthetic
// images and returns the training passes (not the attacks'), the data
// and the model.
func recorded(t *testing.T, c Config, norm string) ([]pass, *data.Dataset, *recorder, nn.Model) {
	t.Helper()
	s, err := spec.Parse("tiny.spec", []byte(tinySpec+"norm "+norm+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(s, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Model: m}
	d := quadrants(64, 1)
	r := &Run{Dir: t.TempDir(), Config: c, Model: rec, Data: d, Quiet: true}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	var train []pass
	for _, p := range rec.passes {
		if !p.mode.InputOnly {
			train = append(train, p)
		}
	}
	return train, d, rec, m
}

// isClean reports whether image x is one of d's images.
func isClean(d *data.Dataset, x []float32) bool {
	img := make([]float32, len(x))
	y := []int{0}
	for i := range d.Len() {
		d.Batch([]int{i}, img, y)
		if slices.Equal(img, x) {
			return true
		}
	}
	return false
}

// TestCleanRatioComposesTheBatch checks "100% adv + X% clean": every
// training step has the batch's adversarial images plus round(X·batch)
// clean counterparts first, split for MBN at their boundary.
func TestCleanRatioComposesTheBatch(t *testing.T) {
	for _, ratio := range []float64{0, 0.25, 1} {
		t.Run(fmt.Sprint(ratio), func(t *testing.T) {
			c := advConfig(1)
			c.CleanRatio, c.Attack.CleanStart = ratio, 0
			steps, d, _, _ := recorded(t, c, "bn")
			nClean := int(ratio * float64(c.Batch))
			if len(steps) != d.Len()/c.Batch {
				t.Fatalf("%d training steps, want %d", len(steps), d.Len()/c.Batch)
			}
			for _, p := range steps {
				if len(p.x) != c.Batch+nClean || p.mode.Split != nClean || p.mode.Branch != nn.Adv {
					t.Fatalf("step of %d images, split %d, branch %v; want %d, %d, adv", len(p.x), p.mode.Split, p.mode.Branch, c.Batch+nClean, nClean)
				}
				for i, x := range p.x {
					if clean := isClean(d, x); clean != (i < nClean) {
						t.Fatalf("image %d of a step: clean %v, want clean images first, then adversarial ones", i, clean)
					}
				}
			}
		})
	}
}

// TestMBNRoutesByBranch trains MBN on 100% adv + 100% clean: attacks run
// through the adversarial branch, and a recorded training step (clean
// half, then adversarial half) updates the clean branch's running
// statistics exactly as its clean half alone does: no adversarial image
// reaches them.
func TestMBNRoutesByBranch(t *testing.T) {
	c := advConfig(1)
	c.CleanRatio, c.Attack.CleanStart = 1, 0
	steps, _, rec, m := recorded(t, c, "mbn")
	for _, p := range rec.passes {
		if p.mode.InputOnly && p.mode.Branch != nn.Adv {
			t.Fatalf("an attack ran through the %v branch", p.mode.Branch)
		}
	}
	last := steps[len(steps)-1]
	n := c.Batch
	split := nn.NewTensor(2*n, 1, 8, 8)
	half := nn.NewTensor(n, 1, 8, 8)
	for i, x := range last.x {
		copy(split.Data[i*64:], x)
		if i < n {
			copy(half.Data[i*64:], x)
		}
	}
	stats := func(mm nn.Model) [][]float32 {
		var s [][]float32
		for _, st := range mm.NormState() {
			s = append(s, slices.Clone(st.Mean), slices.Clone(st.Var))
		}
		return s
	}
	before := stats(m)
	m.Forward(split, nn.Mode{Norm: nn.BatchStats, UpdateStats: true, Split: n, Branch: nn.Adv})
	mixed := stats(m)
	restore := func() {
		for i, st := range m.NormState() {
			copy(st.Mean, before[2*i])
			copy(st.Var, before[2*i+1])
		}
	}
	restore()
	m.Forward(half, nn.Mode{Norm: nn.BatchStats, UpdateStats: true, Split: n})
	cleanOnly := stats(m)
	for i, st := range m.NormState() {
		if strings.HasSuffix(st.Name, ".adv") {
			continue
		}
		if !slices.Equal(mixed[2*i], cleanOnly[2*i]) || !slices.Equal(mixed[2*i+1], cleanOnly[2*i+1]) {
			t.Errorf("%s: the clean branch's statistics saw the adversarial half", st.Name)
		}
	}
}

// TestRunningStatsModeFreezesStatistics trains with running statistics
// in every epoch: the training passes normalize with them and leave them
// unchanged.
func TestRunningStatsModeFreezesStatistics(t *testing.T) {
	c := advConfig(1)
	c.RunningStatsEpochs = 1
	s, err := spec.Parse("tiny.spec", []byte(tinySpec))
	if err != nil {
		t.Fatal(err)
	}
	init, err := interp.NewModel(s, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	steps, _, _, m := recorded(t, c, "bn")
	for _, p := range steps {
		if p.mode.Norm != nn.RunningStats || p.mode.UpdateStats {
			t.Fatalf("training pass in mode %+v", p.mode)
		}
	}
	for i, st := range m.NormState() {
		if !slices.Equal(st.Mean, init.NormState()[i].Mean) || !slices.Equal(st.Var, init.NormState()[i].Var) {
			t.Errorf("%s: running statistics moved", st.Name)
		}
	}
}
