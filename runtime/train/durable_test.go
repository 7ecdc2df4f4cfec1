package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/ckpt"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/spec"
)

// tryRun is newRun that returns Start's error (and a nil run) instead of
// failing; the run it returns is closed when the test ends.
func tryRun(t testing.TB, dir, src string, c Config) (*Run, error) {
	t.Helper()
	s, err := spec.Parse("tiny.spec", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(s, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{Dir: dir, Config: c, Model: m, Data: quadrants(96, 1), Quiet: true}
	if err := r.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { r.Close() })
	return r, nil
}

// trained returns a run folder whose checkpoint stopped after step 2 of
// epoch 2 of advConfig(3) (6 steps an epoch), with its metrics.jsonl.
func trained(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	r := newRun(t, dir, advConfig(3))
	if err := r.Train(&stopAfter{context.Background(), 8}); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v, want context.Canceled", err)
	}
	r.Close()
	return dir
}

// rewrite loads the checkpoint of run folder dir, lets edit change its
// metadata and tensors, and saves it back.
func rewrite(t *testing.T, dir string, edit func(*Meta, []ckpt.Tensor) []ckpt.Tensor) {
	t.Helper()
	path := filepath.Join(dir, "checkpoints", "last.safetensors")
	var meta Meta
	ts, err := ckpt.Load(path, &meta)
	if err != nil {
		t.Fatal(err)
	}
	ts = edit(&meta, ts)
	if err := ckpt.Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
}

// TestNonFiniteNeverSaved: a step that makes the weights non-finite at
// the end of an epoch stops the run with a diagnosis and leaves the last
// good checkpoint as it was (it used to be overwritten with NaN).
func TestNonFiniteNeverSaved(t *testing.T) {
	dir := t.TempDir()
	c := Defaults(96) // one step an epoch: the bad step ends it
	c.Seed = 7
	r := newRun(t, dir, c)
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	good, err := os.ReadFile(r.CheckpointPath())
	if err != nil {
		t.Fatal(err)
	}
	c.Epochs = 2
	r = newRun(t, dir, c)
	r.Config.LR = 1e39 // Inf in float32: Validate refuses it, so set it behind Start's back
	err = r.Train(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "--lr") || !strings.Contains(err.Error(), "keeps the last good state") {
		t.Fatalf("training with lr Inf: %v, want a non-finite diagnosis", err)
	}
	if now, _ := os.ReadFile(r.CheckpointPath()); !bytes.Equal(now, good) {
		t.Fatal("the good checkpoint was replaced")
	}

	// Save itself refuses NaN in a running statistic and in a momentum
	// buffer, which no step check looks at.
	for name, spoil := range map[string]func(){
		"running_var":     func() { r.Model.NormState()[0].Var[1] = float32(math.NaN()) },
		"momentum_buffer": func() { r.opt.Velocity[2][0] = float32(math.Inf(-1)) },
	} {
		fresh := newRun(t, t.TempDir(), Defaults(16))
		if err := fresh.Save(); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(fresh.CheckpointPath())
		r = fresh
		spoil()
		err := fresh.Save()
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), name) {
			t.Errorf("saving with a non-finite %s: %v, want an error naming it", name, err)
		}
		if now, _ := os.ReadFile(fresh.CheckpointPath()); !bytes.Equal(now, before) {
			t.Errorf("non-finite %s: the checkpoint was replaced", name)
		}
	}
}

// TestRunFolderLock: a second trainer on a run folder is refused with the
// holder's PID; the lock goes with Close, and a lock file left by a
// killed trainer blocks nobody.
func TestRunFolderLock(t *testing.T) {
	dir := t.TempDir()
	first := newRun(t, dir, advConfig(1))
	_, err := tryRun(t, dir, tinySpec, advConfig(1))
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second trainer: %v, want an InputError naming PID %d", err, os.Getpid())
	}
	first.Close()
	if _, err := tryRun(t, dir, tinySpec, advConfig(1)); err != nil {
		t.Fatalf("after the first closed: %v", err)
	}

	stale := t.TempDir()
	if err := os.WriteFile(filepath.Join(stale, "lock"), []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tryRun(t, stale, tinySpec, advConfig(1)); err != nil {
		t.Fatalf("with a stale lock file: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(stale, "lock")); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this PID", b)
	}
}

// TestMetricsRepairedOnResume: metrics.jsonl that lost the line of the
// last checkpointed epoch (a kill between the save and the append), or
// that holds a partial or duplicated line, is rebuilt from the
// checkpoint on resume; the finished run's file equals an uninterrupted
// run's. Stale temp files go too.
func TestMetricsRepairedOnResume(t *testing.T) {
	whole := newRun(t, t.TempDir(), advConfig(3))
	if err := whole.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(whole.Dir, "metrics.jsonl"))

	for name, spoil := range map[string]func(lines []byte) []byte{
		"lost line":      func([]byte) []byte { return nil },
		"partial line":   func(b []byte) []byte { return append(b, `{"epoch":2,"st`...) },
		"duplicate line": func(b []byte) []byte { return append(b, b...) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := trained(t)
			metrics := filepath.Join(dir, "metrics.jsonl")
			b, _ := os.ReadFile(metrics)
			if n := bytes.Count(b, []byte("\n")); n != 1 {
				t.Fatalf("metrics.jsonl has %d lines after an epoch, want 1", n)
			}
			if err := os.WriteFile(metrics, spoil(b), 0o644); err != nil {
				t.Fatal(err)
			}
			temps := []string{"checkpoints/.last.safetensors8674665223082153551", ".metrics.jsonl42", ".config.json7", "checkpoints/x.tmp"}
			keep := []string{"checkpoints/.last.safetensors.bak", "notes.txt", ".metrics.jsonl"}
			for _, f := range append(slices.Clone(temps), keep...) {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := newRun(t, dir, advConfig(3))
			if got, _ := os.ReadFile(metrics); !bytes.Equal(got, b) {
				t.Errorf("after Start metrics.jsonl is\n%s\nwant\n%s", got, b)
			}
			for _, f := range temps {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("stale temp file %s left", f)
				}
			}
			for _, f := range keep {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s removed: %v", f, err)
				}
			}
			if err := r.Train(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(metrics)
			if strip(got) != strip(want) {
				t.Errorf("metrics:\n%s\nuninterrupted:\n%s", got, want)
			}
			ck, err := OpenCheckpoint(r.CheckpointPath())
			if err != nil {
				t.Fatal(err)
			}
			if len(ck.Meta.History) != 3 {
				t.Errorf("the checkpoint holds %d epochs' metrics, want 3", len(ck.Meta.History))
			}
		})
	}
}

// TestResumesCheckpointWithoutHistory resumes a checkpoint as netc
// wrote them before they held a spec hash and their epochs' metrics: the
// lines of metrics.jsonl become the history.
func TestResumesCheckpointWithoutHistory(t *testing.T) {
	dir := trained(t)
	rewrite(t, dir, func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor {
		m.SpecHash, m.History = "", nil
		return ts
	})
	r := newRun(t, dir, advConfig(3))
	if len(r.history) != 1 || r.history[0].Epoch != 1 {
		t.Fatalf("history %+v, want epoch 1's line of metrics.jsonl", r.history)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if n := bytes.Count(b, []byte("\n")); n != 3 {
		t.Errorf("metrics.jsonl has %d lines, want 3:\n%s", n, b)
	}
}

// TestResumeRefusesBadCheckpoints: every way a checkpoint can fail to
// continue the run is refused with an InputError that says why (negative
// in_epoch used to panic, a huge one finished the epoch with negative
// image counts, epoch -3 trained extra epochs, a different spec with the
// same tensor sizes and a permuted shape were taken).
func TestResumeRefusesBadCheckpoints(t *testing.T) {
	state := func(f func(*State)) func(*Meta, []ckpt.Tensor) []ckpt.Tensor {
		return func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor { f(&m.State); return ts }
	}
	tensor := func(name string, f func(*ckpt.Tensor)) func(*Meta, []ckpt.Tensor) []ckpt.Tensor {
		return func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor {
			for i := range ts {
				if ts[i].Name == name {
					f(&ts[i])
				}
			}
			return ts
		}
	}
	otherSpec := strings.Replace(tinySpec, "input 1 8 8", "input 1 8 8 mean=0.5 std=0.25", 1)
	for _, tc := range []struct {
		name string
		edit func(*Meta, []ckpt.Tensor) []ckpt.Tensor
		src  string // the resuming run's spec (default tinySpec)
		want string
	}{
		{"negative in_epoch", state(func(s *State) { s.InEpoch = -1 }), "", "in_epoch -1"},
		{"huge in_epoch", state(func(s *State) { s.InEpoch = 1 << 40 }), "", "in_epoch 1099511627776"},
		{"negative epoch", state(func(s *State) { s.Epoch = -3 }), "", "epoch -3"},
		{"epoch beyond --epochs", state(func(s *State) { s.Epoch, s.Step = 5, 32 }), "", "more than --epochs 3"},
		{"within an epoch past --epochs", state(func(s *State) { s.Epoch, s.Step = 3, 20 }), "", "beyond --epochs 3"},
		{"step mismatch", state(func(s *State) { s.Step = 3 }), "", "step 3"},
		{"huge epoch", state(func(s *State) { s.Epoch = math.MaxInt / 2 }), "", "more than --epochs 3"},
		{"image counts", state(func(s *State) { s.Sums.AdvN = -16 }), "", "sums"},
		{"right beyond seen", state(func(s *State) { s.Sums.CleanOK = s.Sums.CleanN + 1 }), "", "right"},
		{"negative loss", state(func(s *State) { s.Sums.Loss = -1 }), "", "loss -1"},
		{"negative seconds", state(func(s *State) { s.Sums.Seconds = -2 }), "", "-2 seconds"},
		{"bad rng", state(func(s *State) { s.RNG = []byte("pcg:short") }), "", "attack generator state"},
		{"history beyond epoch", func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor {
			m.History = append(m.History, m.History[0])
			m.History[1].Epoch, m.History[1].Step = 2, 12
			return ts
		}, "", "metrics of epoch 2"},
		{"history accuracy", func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor { m.History[0].AdvAcc = 2; return ts }, "", "train_adv_acc 2"},
		{"other spec, same tensors", nil, otherSpec, "another spec"},
		{"other spec, old checkpoint", func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor { m.SpecHash = ""; return ts }, otherSpec, "another spec"},
		{"spec hash damaged", func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor { m.SpecHash = SpecHash("x"); return ts }, "", "damaged"},
		{"permuted shape", tensor("conv1.weight", func(t *ckpt.Tensor) { t.Shape = []int{t.Shape[1], t.Shape[0], t.Shape[2], t.Shape[3]} }), "", "shape [1 4 3 3]"},
		{"extra tensor", func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor {
			return append(ts, ckpt.Tensor{Name: "layer9.weight", Shape: []int{1}, Data: []float32{1}})
		}, "", "layer9.weight is not in the model"},
		{"non-finite weight", tensor("fc.bias", func(t *ckpt.Tensor) { t.Data[0] = float32(math.NaN()) }), "", "tensor fc.bias is not finite: value 0 is NaN (1 of its 3 values"},
		{"other settings", func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor { m.Config.Momentum = 0.5; return ts }, "", "momentum: run 0.5, now 0.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := trained(t)
			if tc.edit != nil {
				rewrite(t, dir, tc.edit)
			}
			src := tc.src
			if src == "" {
				src = tinySpec
			}
			_, err := tryRun(t, dir, src, advConfig(3))
			t.Log(err)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "last.safetensors") {
				t.Fatalf("resume: %v; want an InputError naming the checkpoint and containing %q", err, tc.want)
			}
		})
	}
}

// TestResumeChecksConfigFile: config.json is read back on resume; flags
// that differ from it (but for --epochs) are refused, naming both values,
// and an unreadable one is refused too.
func TestResumeChecksConfigFile(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"other lr", "", "lr: run 0.025, now 0.05"},
		{"not JSON", "{", "config.json: unexpected end of JSON input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := trained(t)
			path := filepath.Join(dir, "config.json")
			text := tc.text
			if text == "" {
				b, _ := os.ReadFile(path)
				text = strings.Replace(string(b), `"lr": 0.05`, `"lr": 0.025`, 1)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := tryRun(t, dir, tinySpec, advConfig(3))
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v; want an InputError containing %q", err, tc.want)
			}
		})
	}
	// --epochs may change, and config.json follows it.
	dir := trained(t)
	if _, err := tryRun(t, dir, tinySpec, advConfig(4)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "config.json")); !strings.Contains(string(b), `"epochs": 4`) {
		t.Errorf("config.json after extending the run:\n%s", b)
	}
}

// TestStartErrorsAreClassified: a run folder that cannot be created (a
// path under /dev/null, a regular file in its place: real OS errors even
// as root) is the environment's error, not an InputError; bad settings,
// a corrupt checkpoint and an --init checkpoint with NaN weights are
// InputErrors.
func TestStartErrorsAreClassified(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	for _, dir := range []string{"/dev/null/x", file} {
		_, err := tryRun(t, dir, tinySpec, advConfig(1))
		if err == nil || errors.As(err, &ie) {
			t.Errorf("--out %s: %v, want an environment error", dir, err)
		}
	}
	c := advConfig(1)
	c.Momentum = math.NaN()
	if _, err := tryRun(t, t.TempDir(), tinySpec, c); !errors.As(err, &ie) || !strings.Contains(err.Error(), "--momentum NaN") {
		t.Errorf("momentum NaN: %v, want an InputError naming --momentum", err)
	}
	dir := trained(t)
	if err := os.WriteFile(filepath.Join(dir, "checkpoints", "last.safetensors"), []byte("garbage!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tryRun(t, dir, tinySpec, advConfig(3)); !errors.As(err, &ie) {
		t.Errorf("corrupt checkpoint: %v, want an InputError", err)
	}

	// --init from a checkpoint with NaN weights.
	dir = trained(t)
	rewrite(t, dir, func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor {
		ts[0].Data[0] = float32(math.NaN())
		return ts
	})
	c = advConfig(1)
	c.Init = filepath.Join(dir, "checkpoints", "last.safetensors")
	if _, err := tryRun(t, t.TempDir(), tinySpec, c); !errors.As(err, &ie) || !strings.Contains(err.Error(), "--init") {
		t.Errorf("--init with NaN weights: %v, want an InputError naming --init", err)
	}
}

// TestOpenRefusesEditedSpec: a checkpoint whose spec text is not the one
// its spec_sha256 hashes is refused by everything that opens it (eval,
// stats, predict, finetune-norm, --init), not only by resume: an edited
// mean and std (or GN groups) keep every tensor's shape, so the weights
// loaded silently into another network.
func TestOpenRefusesEditedSpec(t *testing.T) {
	dir := trained(t)
	rewrite(t, dir, func(m *Meta, ts []ckpt.Tensor) []ckpt.Tensor {
		m.Spec = strings.Replace(m.Spec, "input 1 8 8", "input 1 8 8 mean=0.9 std=0.01", 1)
		return ts
	})
	_, err := OpenCheckpoint(filepath.Join(dir, "checkpoints", "last.safetensors"))
	if !errors.As(err, new(*InputError)) || !strings.Contains(err.Error(), "is not the hash of its spec text") {
		t.Fatalf("opening a checkpoint with an edited spec: %v, want an InputError about spec_sha256", err)
	}
}
