package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/netc/netc/runtime/ckpt"
)

// FuzzResumeState gives resume any JSON as a checkpoint's metadata
// (beside the right tensors): it must refuse with an InputError or accept
// a state in range for the run (checked here on its own terms), from
// which the trainer then takes a step and writes a checkpoint that
// resumes again. Nothing may panic.
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
		if !json.Valid(metaJSON) {
			return
		}
		b, err := ckpt.Encode(ts, json.RawMessage(metaJSON))
		if err != nil {
			return
		}
		c, err := ReadCheckpoint("fuzz.safetensors", b)
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
		// The trainer goes on from there, and what it saves resumes.
		os.Remove(run.CheckpointPath())
		if err := run.Train(&stopAfter{context.Background(), 1}); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("training from an accepted state: %v", err)
		}
		if _, err := os.Stat(run.CheckpointPath()); err != nil {
			return // the run had finished: nothing to save
		}
		again, err := OpenCheckpoint(run.CheckpointPath())
		if err != nil {
			t.Fatal(err)
		}
		run.init()
		if err := run.resume(again); err != nil {
			t.Fatalf("the trainer's own checkpoint after an accepted state does not resume: %v", err)
		}
	})
}
