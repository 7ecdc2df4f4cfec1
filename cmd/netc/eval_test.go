package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/ckpt"
	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/specs"
)

// writeRun writes a checkpoint of the default spec with fresh weights,
// changed by edit, as a run on data src with training attack att
// (adversarial if att.Steps > 0) would have saved it.
func writeRun(t *testing.T, src string, att pgd.Config, edit func(m nn.Model)) string {
	t.Helper()
	s, err := specs.Parse(specs.Default)
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	c := train.Defaults(16)
	c.Data, c.Attack, c.Adversarial = src, att, att.Steps > 0
	path := filepath.Join(t.TempDir(), "last.safetensors")
	// ckpt.Save, not train.SaveCheckpoint, which refuses non-finite
	// values: edit may put them there, as an older netc could have.
	meta := train.Meta{Format: train.Format, Spec: m.Spec().String(), Config: c}
	meta.SpecHash = train.SpecHash(meta.Spec)
	var ts []ckpt.Tensor
	for _, p := range m.Params() {
		ts = append(ts, ckpt.Tensor{Name: p.Name, Shape: p.Value.Shape, Data: p.Value.Data})
	}
	for _, n := range m.NormState() {
		ts = append(ts,
			ckpt.Tensor{Name: n.Name + ".running_mean", Shape: []int{len(n.Mean)}, Data: n.Mean},
			ckpt.Tensor{Name: n.Name + ".running_var", Shape: []int{len(n.Var)}, Data: n.Var})
	}
	if err := ckpt.Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	return path
}

// evalJSON is what the tests read of `netc eval --json`.
type evalJSON struct {
	Clean    *float64          `json:"clean_accuracy"`
	Settings map[string]string `json:"settings"`
	Attacks  []struct {
		Attack string  `json:"attack"`
		Eps    float64 `json:"eps"`
		Curve  []struct {
			Iters    int      `json:"iters"`
			Accuracy *float64 `json:"accuracy"`
			Final    *float64 `json:"final_accuracy"`
		} `json:"pgd"`
	} `json:"attacks"`
}

// Issue 11, item 3: eval attacks with the run's own training attack
// unless flags say otherwise and says where each setting came from;
// --pgd 0 is clean accuracy only; --json is one object whatever the
// number of attacks; the table goes to stdout, the rest to stderr.
func TestEvalDefaultsAndJSON(t *testing.T) {
	src := tinyMNIST(t, 12)
	adv := writeRun(t, src, pgd.Config{Eps: 0.2, Step: 0.05, Steps: 2, Loss: pgd.Untargeted, CleanStart: 0.2}, nil)
	cleanAttack := pgd.Paper()
	cleanAttack.Steps = 0
	clean := writeRun(t, src, cleanAttack, nil)
	evalJ := func(args ...string) (evalJSON, string) {
		t.Helper()
		code, out, stderr := runCapture(t, append([]string{"eval", "--limit", "6", "--batch", "4", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("netc eval %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		var r evalJSON
		dec := json.NewDecoder(strings.NewReader(out))
		if err := dec.Decode(&r); err != nil || dec.More() {
			t.Fatalf("netc eval %s --json printed %q (%v): want one object", strings.Join(args, " "), out, err)
		}
		if r.Clean == nil || r.Attacks == nil && !strings.Contains(out, `"attacks": []`) {
			t.Fatalf("netc eval %s --json: no clean_accuracy or attacks: %s", strings.Join(args, " "), out)
		}
		for _, a := range r.Attacks {
			for _, p := range a.Curve {
				if p.Accuracy == nil || p.Final == nil || *p.Accuracy > *r.Clean || *p.Accuracy > *p.Final {
					t.Errorf("netc eval %s: point %+v, clean %g", strings.Join(args, " "), p, *r.Clean)
				}
			}
		}
		return r, stderr
	}
	settings := func(eps, attack string) map[string]string {
		return map[string]string{"eps": eps, "attack": attack, "step": "default", "attack-norm": "default"}
	}

	r, stderr := evalJ(adv, "--pgd", "1,2")
	if len(r.Attacks) != 1 || r.Attacks[0].Attack != "untargeted" || r.Attacks[0].Eps != 0.2 || len(r.Attacks[0].Curve) != 2 {
		t.Errorf("the run's attack: %+v", r.Attacks)
	}
	if want := settings("run", "run"); !equalMaps(r.Settings, want) {
		t.Errorf("settings %v, want %v", r.Settings, want)
	}
	if !strings.Contains(stderr, "attack untargeted (the run's training attack in "+adv+"), eps 0.2 (the run's training attack") {
		t.Errorf("stderr does not say where the settings came from:\n%s", stderr)
	}

	r, _ = evalJ(adv, "--pgd", "1", "--eps", "0.1")
	if len(r.Attacks) != 1 || r.Attacks[0].Attack != "untargeted" || r.Attacks[0].Eps != 0.1 || !equalMaps(r.Settings, settings("flag", "run")) {
		t.Errorf("--eps 0.1: %+v, settings %v", r.Attacks, r.Settings)
	}

	r, _ = evalJ(adv, "--pgd", "1", "--attack", "targeted,untargeted")
	if len(r.Attacks) != 2 || r.Attacks[0].Attack != "targeted" || r.Attacks[1].Attack != "untargeted" || r.Attacks[1].Eps != 0.2 {
		t.Errorf("two attacks: %+v", r.Attacks)
	}

	r, stderr = evalJ(adv, "--pgd", "0")
	if len(r.Attacks) != 0 || r.Settings != nil || strings.Contains(stderr, "eval: attack") {
		t.Errorf("--pgd 0: %+v, settings %v, stderr %s", r.Attacks, r.Settings, stderr)
	}

	r, _ = evalJ(clean, "--pgd", "1")
	if len(r.Attacks) != 1 || r.Attacks[0].Attack != "targeted" || r.Attacks[0].Eps != 16.0/255 || !equalMaps(r.Settings, settings("default", "default")) {
		t.Errorf("a run trained on clean images: %+v, settings %v", r.Attacks, r.Settings)
	}

	code, out, stderr := runCapture(t, "eval", adv, "--limit", "6", "--pgd", "1")
	if code != 0 || !strings.Contains(out, "clean") || !strings.Contains(out, "PGD-1 ") || !strings.Contains(out, "at K-th") ||
		strings.Contains(stderr, "PGD-1 ") || !strings.Contains(stderr, "eval: attack untargeted") {
		t.Errorf("table: exit %d, stdout:\n%s\nstderr:\n%s", code, out, stderr)
	}

	for _, list := range []string{"0,5", "-1", "1,x", ""} {
		if code, _, stderr := runCapture(t, "eval", adv, "--pgd", list); code != 2 || !strings.Contains(stderr, "--pgd") {
			t.Errorf("--pgd %q: exit %d, %s; want 2", list, code, stderr)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Regression (issue 11, item 2): a checkpoint with a NaN weight was
// evaluated ("clean 20.00%", exit 0). Every command that loads trained
// weights refuses it, naming the file and the tensor, exit status 1.
func TestNonFiniteCheckpointIsRefused(t *testing.T) {
	src := tinyMNIST(t, 8)
	var name string
	path := writeRun(t, src, pgd.Paper(), func(m nn.Model) {
		p := m.Params()[3]
		p.Value.Data[5], name = float32(math.NaN()), p.Name
	})
	tensor := "tensor " + name + " is not finite: value 5 is NaN (1 of its"
	for _, args := range [][]string{
		{"eval", path, "--pgd", "0"},
		{"eval", path, "--pgd", "1", "--limit", "4"},
		{"stats", path},
		{"finetune-norm", path, "--out", t.TempDir()},
	} {
		code, _, stderr := runCapture(t, args...)
		if code != 1 || !strings.Contains(stderr, path) || !strings.Contains(stderr, tensor) {
			t.Errorf("netc %s: exit %d, %q; want 1 naming %s and %q", strings.Join(args, " "), code, stderr, path, tensor)
		}
	}
	for name, run := range map[string]func() error{
		"attack":  func() error { return models.Attack([]string{path, "--limit", "2"}) },
		"predict": func() error { return models.Predict([]string{path, "x.png"}) },
	} {
		err := run()
		if err == nil || errors.As(err, new(cli.BadInput)) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tensor) {
			t.Errorf("%s: %v; want a runtime failure naming %s and %q", name, err, path, tensor)
		}
	}
}

// Regression (issue 11, item 2): finite weights whose logits overflow
// stop the evaluation with the image, the pass and the first layer whose
// output is not finite, exit status 1.
func TestInfiniteLogitsStopEval(t *testing.T) {
	src := tinyMNIST(t, 8)
	path := writeRun(t, src, pgd.Paper(), func(m nn.Model) {
		for _, p := range m.Params() { // logit 0 overflows
			if p.Name == "fc.weight" || p.Name == "fc.bias" {
				for i := range p.Value.Data[:p.Value.Len()/10] {
					p.Value.Data[i] = math.MaxFloat32
				}
			}
		}
	})
	code, _, stderr := runCapture(t, "eval", path, "--pgd", "1", "--limit", "4")
	for _, want := range []string{"test image 0 (batch of images 0-3): its logits in the clean pass hold a NaN or an infinity, though the weights are finite",
		"the first layer whose output is not finite is fc (linear, 10x1x1), image 0 of the input, channel 0: +Inf"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, %q; want 1 and %q", code, stderr, want)
		}
	}
	if slices.Contains([]int{0, 2}, code) {
		t.Errorf("exit %d", code)
	}
}

// captured runs f and returns what it printed on stdout and stderr, and
// its error.
func captured(t *testing.T, f func() error) (string, string, error) {
	t.Helper()
	var err error
	_, stdout, stderr := capture(t, func() int { err = f(); return 0 })
	return stdout, stderr, err
}

// The attack command's summary counts an image only if it is classified
// right clean and at every iterate (it counted the last iterate alone),
// and each line says whether its image stayed robust so.
func TestAttackSummaryDoesNotOverstate(t *testing.T) {
	src := tinyMNIST(t, 20)
	path := writeRun(t, src, pgd.Paper(), nil)
	out, stderr, err := captured(t, func() error {
		return models.Attack([]string{path, "--limit", "20", "--batch", "8", "--steps", "3", "--eps", "0.3", "--attack", "untargeted"})
	})
	if err != nil {
		t.Fatal(err)
	}
	robust, cleanRight := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Label, Clean, Adversarial int
			Robust                    *bool
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Robust == nil {
			t.Fatalf("line %q: %v (want a robust field)", l, err)
		}
		if *r.Robust && (r.Clean != r.Label || r.Adversarial != r.Label) {
			t.Errorf("line %q: robust though wrong clean or at the last iterate", l)
		}
		robust += b2i(*r.Robust)
		cleanRight += b2i(r.Clean == r.Label)
	}
	want := fmt.Sprintf(": %d of 20 images classified right clean and at every iterate", robust)
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "clean start with p = 0.2") || robust > cleanRight {
		t.Errorf("summary %q: want %q (clean right %d)", stderr, want, cleanRight)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
