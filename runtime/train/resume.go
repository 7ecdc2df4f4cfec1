package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/netc/netc/spec"
)

// resume checks that checkpoint c continues this run (the same settings
// but for --epochs, the same spec, a state in range for this run's steps
// per epoch, tensors of the model's exact shapes, finite values) and
// restores the run from it. Its errors are InputErrors naming c's file.
func (r *Run) resume(c *Checkpoint) error {
	bad := func(format string, args ...any) error {
		return &InputError{fmt.Errorf("%s: "+format, append([]any{c.Path}, args...)...)}
	}
	if d := configDiff(c.Meta.Config, r.Config); d != "" {
		return bad("it holds a run with other settings (%s); resume it with the same flags (only --epochs may change) or use another --out", d)
	}
	if err := sameSpec(c.Meta, r.Model.Spec()); err != nil {
		return bad("%v", err)
	}
	steps, err := r.stepsPerEpoch()
	if err != nil {
		return err
	}
	st := c.Meta.State
	if err := checkState(st, r.Config, steps); err != nil {
		return bad("state %v", err)
	}
	if err := checkHistory(c.Meta.History, st.Epoch, steps); err != nil {
		return bad("metrics %v", err)
	}
	var pcg rand.PCG
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return bad("attack generator state: %v", err)
	}
	if err := c.Restore(r.Model, r.opt); err != nil {
		return err
	}
	if err := CheckFinite(r.Model, r.opt); err != nil {
		return bad("%v; it cannot be resumed (start a new run, perhaps with --init from an earlier checkpoint)", err)
	}
	*r.pcg = pcg
	r.state, r.history = st, slices.Clone(c.Meta.History)
	return nil
}

// sameSpec reports how the spec a checkpoint's metadata holds differs
// from s, by the hash of the canonical text. A checkpoint without a hash
// (an older one) is hashed from its spec text; one whose text another
// version of netc formatted is compared after parsing it.
func sameSpec(meta Meta, s *spec.Spec) error {
	stored := SpecHash(meta.Spec)
	if meta.SpecHash != "" && meta.SpecHash != stored {
		return fmt.Errorf("its spec_sha256 %s is not the hash of its spec text (%s): the metadata is damaged", meta.SpecHash, stored)
	}
	want := s.String()
	if stored == SpecHash(want) {
		return nil
	}
	if old, err := spec.Parse("checkpoint spec", []byte(meta.Spec)); err == nil && old.String() == want {
		return nil
	}
	had, now := strings.Split(meta.Spec, "\n"), strings.Split(want, "\n")
	i := 0
	for i < len(had) && i < len(now) && had[i] == now[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) && l[i] != "" {
			return fmt.Sprintf("%q", l[i])
		}
		return "nothing"
	}
	return fmt.Errorf("it holds a run of another spec (sha256 %.12s, this spec's %.12s): at canonical line %d it has %s, this spec %s; resume with the spec the run was trained with, or use another --out", stored, SpecHash(want), i+1, line(had), line(now))
}

// checkState reports what is out of range in a checkpoint's state for a
// run of c with steps optimizer steps per epoch.
func checkState(st State, c Config, steps int) error {
	switch {
	case st.Epoch < 0:
		return fmt.Errorf("epoch %d: negative", st.Epoch)
	case st.Epoch > c.Epochs:
		return fmt.Errorf("epoch %d: the run has finished more than --epochs %d", st.Epoch, c.Epochs)
	case st.InEpoch < 0 || st.InEpoch >= steps:
		return fmt.Errorf("in_epoch %d: want 0..%d (an epoch of this run has %d steps of --batch %d)", st.InEpoch, steps-1, steps, c.Batch)
	case st.InEpoch > 0 && st.Epoch == c.Epochs:
		return fmt.Errorf("epoch %d, in_epoch %d: the run stopped within epoch %d, beyond --epochs %d", st.Epoch, st.InEpoch, st.Epoch+1, c.Epochs)
	case st.Epoch > (math.MaxInt-st.InEpoch)/steps || st.Step != st.Epoch*steps+st.InEpoch:
		return fmt.Errorf("step %d: %d epochs of %d steps and %d steps more make %d (did the data set, --limit or --batch change?)", st.Step, st.Epoch, steps, st.InEpoch, st.Epoch*steps+st.InEpoch)
	}
	clean, adv := c.perStep()
	t := st.Sums
	switch {
	case t.CleanN != st.InEpoch*clean || t.AdvN != st.InEpoch*adv:
		return fmt.Errorf("sums: %d clean and %d adversarial images, but %d steps of this run make %d and %d", t.CleanN, t.AdvN, st.InEpoch, st.InEpoch*clean, st.InEpoch*adv)
	case t.CleanOK < 0 || t.CleanOK > t.CleanN || t.AdvOK < 0 || t.AdvOK > t.AdvN:
		return fmt.Errorf("sums: %d of %d clean and %d of %d adversarial images right", t.CleanOK, t.CleanN, t.AdvOK, t.AdvN)
	case !(t.Loss >= 0) || math.IsInf(t.Loss, 0) || (st.InEpoch == 0 && t.Loss != 0):
		return fmt.Errorf("sums: loss %v after %d steps", t.Loss, st.InEpoch)
	case !(t.Seconds >= 0) || math.IsInf(t.Seconds, 0):
		return fmt.Errorf("sums: %v seconds", t.Seconds)
	}
	return nil
}

// checkHistory reports what is wrong with the metrics a checkpoint holds
// after epochs finished epochs of steps steps: each valid, their epochs
// increasing, none beyond epochs.
func checkHistory(h []Metrics, epochs, steps int) error {
	last := 0
	for _, m := range h {
		switch {
		case m.Epoch <= last:
			return fmt.Errorf("of epoch %d follow those of epoch %d (want increasing epochs)", m.Epoch, last)
		case m.Epoch > epochs:
			return fmt.Errorf("of epoch %d, but the state has finished %d epochs", m.Epoch, epochs)
		}
		if err := checkMetrics(m, steps); err != nil {
			return err
		}
		last = m.Epoch
	}
	return nil
}

// checkMetrics reports what is out of range in an epoch's metrics.
func checkMetrics(m Metrics, steps int) error {
	if m.Epoch < 1 || m.Step != m.Epoch*steps {
		return fmt.Errorf("of epoch %d: step %d, want %d", m.Epoch, m.Step, m.Epoch*steps)
	}
	for _, v := range []struct {
		name   string
		v, max float64
	}{
		{"lr", m.LR, math.MaxFloat64}, {"loss", m.Loss, math.MaxFloat64},
		{"train_clean_acc", m.CleanAcc, 1}, {"train_adv_acc", m.AdvAcc, 1}, {"test_clean_acc", m.TestAcc, 1},
		{"images_per_s", m.ImagesPerS, math.MaxFloat64}, {"seconds", m.Seconds, math.MaxFloat64},
	} {
		if !(v.v >= 0 && v.v <= v.max) {
			return fmt.Errorf("of epoch %d: %s %v", m.Epoch, v.name, v.v)
		}
	}
	return nil
}
