package train

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/netc/netc/runtime/ckpt"
)

// FuzzResumeState gives resume any bytes as a checkpoint's metadata
// (beside the right tensors): it must refuse with an InputError or accept
// a state in range for the run, as checked here on its own terms (the
// states the trainer itself writes), with finite tensors. Nothing may
// panic. (It touches no disk, so that it runs fast.)
func FuzzResumeState(f *testing.F) {
	dir := trained(f)
	var meta Meta
	ts, err := ckpt.Load(filepath.Join(dir, "checkpoints", "last.safetensors"), &meta)
	if err != nil {
		f.Fatal(err)
	}
	seed := func(edit func(*Meta)) {
		m := meta
		m.State.Sums = meta.State.Sums
		m.History = append([]Metrics(nil), meta.History...)
		edit(&m)
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(func(*Meta) {})
	seed(func(m *Meta) { m.State.InEpoch = -1 })
	seed(func(m *Meta) { m.State.Epoch, m.State.InEpoch, m.State.Step = 2, 5, 17 })
	seed(func(m *Meta) { m.State.Epoch, m.State.InEpoch, m.State.Step, m.State.Sums = 1, 0, 6, sums{} })
	seed(func(m *Meta) { m.SpecHash, m.History = "", nil })
	f.Add([]byte(`{"format":"netc-checkpoint/1","state":{"epoch":-3}}`))

	run := newRun(f, f.TempDir(), advConfig(3))
	steps, err := run.stepsPerEpoch()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, metaJSON []byte) {
		// As ReadCheckpoint decodes a file's metadata, beside its tensors.
		c := &Checkpoint{Path: "fuzz.safetensors"}
		if json.Unmarshal(metaJSON, &c.Meta) != nil {
			return
		}
		c, err := c.index(ts)
		if err != nil {
			return
		}
		run.init()
		if err := run.resume(c); err != nil {
			if !errors.As(err, new(*InputError)) {
				t.Fatalf("resume refused with %v, not an InputError", err)
			}
			return
		}
		st, cfg := run.state, run.Config
		clean, adv := cfg.perStep()
		t2 := st.Sums
		switch {
		case st.Epoch < 0 || st.Epoch > cfg.Epochs || st.InEpoch < 0 || st.InEpoch >= steps,
			st.InEpoch > 0 && st.Epoch == cfg.Epochs,
			st.Step != st.Epoch*steps+st.InEpoch,
			t2.CleanN != st.InEpoch*clean || t2.AdvN != st.InEpoch*adv,
			t2.CleanOK < 0 || t2.CleanOK > t2.CleanN || t2.AdvOK < 0 || t2.AdvOK > t2.AdvN,
			!(t2.Loss >= 0) || math.IsInf(t2.Loss, 0) || !(t2.Seconds >= 0) || math.IsInf(t2.Seconds, 0):
			t.Fatalf("resume accepted an out-of-range state %+v", st)
		}
		last := 0
		for _, m := range run.history {
			if m.Epoch <= last || m.Epoch > st.Epoch || m.Step != m.Epoch*steps {
				t.Fatalf("resume accepted metrics %+v after %d epochs", run.history, st.Epoch)
			}
			last = m.Epoch
		}
		if err := CheckFinite(run.Model, run.opt); err != nil {
			t.Fatalf("resume accepted %v", err)
		}
	})
}
