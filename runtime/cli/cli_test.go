package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

func interpreted(s *spec.Spec, seed uint64) (nn.Model, error) { return interp.NewModel(s, seed) }

func defaultSpec(t *testing.T) *spec.Spec {
	s, err := specs.Parse(specs.Default)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stdout runs f and returns what it printed on stdout.
func stdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	ferr := f()
	os.Stdout = old
	w.Close()
	b, _ := io.ReadAll(r)
	return string(b), ferr
}

func TestBenchJSON(t *testing.T) {
	out, err := stdout(t, func() error {
		return Commands{New: interpreted, Spec: defaultSpec(t)}.Bench([]string{"--batch", "2", "--time", "1ms", "--json"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	for _, k := range []string{"inference", "train_step", "attack_step", "adv_train_step_pgd10"} {
		if v, ok := r[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want images/s > 0", k, r[k])
		}
	}
	if r["batch"] != 2.0 || r["threads"] != 1.0 || r["model"] != "mnistresnet" {
		t.Errorf("bench printed %v", r)
	}
}

func TestBadInput(t *testing.T) {
	compiled := Commands{New: interpreted, Spec: defaultSpec(t)}
	netc := Commands{New: interpreted}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"bench extra argument", compiled.Bench([]string{"extra"})},
		{"bench batch 0", compiled.Bench([]string{"--batch", "0"})},
		{"predict without images", netc.Predict([]string{"x.safetensors"})},
		{"predict of a PNG that is not one", netc.Predict([]string{"../../generated/mnistresnet/weights.ckpt", "cli.go"})},
		{"eval missing checkpoint", netc.Eval([]string{"/nonexistent/last.safetensors"})},
		{"train two specs", netc.Train([]string{"a.spec", "b.spec", "--out", "x"})},
	} {
		if !errors.As(c.err, new(BadInput)) {
			t.Errorf("%s: %v, want a bad-input error", c.name, c.err)
		}
	}
}

// TestAttackLines attacks the embedded robust MNIST model's checkpoint:
// one JSON line per image, perturbations within ε.
func TestAttackLines(t *testing.T) {
	out, err := stdout(t, func() error {
		return Commands{New: interpreted}.Attack([]string{"../../generated/mnistresnet/weights.ckpt", "--limit", "6", "--batch", "4",
			"--steps", "2", "--eps", "0.3", "--attack", "untargeted"})
	})
	if err != nil {
		if strings.Contains(err.Error(), "download MNIST yourself") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var r struct {
			Index, Label, Clean, Adversarial int
			Linf                             float64
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if r.Index != i || r.Linf > 0.3+1e-6 || r.Linf <= 0 {
			t.Errorf("line %d: %+v", i, r)
		}
	}
}
