package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/train"
)

// tinyRun trains a tiny model for one epoch on the interpreter, on an
// ImageFolder tree of 8x8 images of two classes (dark and bright), and
// returns the run folder, the tree's data source and two of its images.
func tinyRun(t *testing.T) (run, source string, images []string) {
	t.Helper()
	dir := t.TempDir()
	specPath := filepath.Join(dir, "tiny.spec")
	os.WriteFile(specPath, []byte("model tiny\ninput 3 8 8\nclasses 2\nstem cifar\nblock basic\nstages 1 1 1\nwidth 16\nnorm bn\n"), 0o644)
	tree := filepath.Join(dir, "tree")
	for _, split := range []string{"train", "test"} {
		for c, class := range []string{"dark", "bright"} {
			for i := range 8 {
				m := image.NewNRGBA(image.Rect(0, 0, 8, 8))
				for p := range 64 {
					v := uint8(40 + 150*c + 7*i + p%5)
					m.SetNRGBA(p%8, p/8, color.NRGBA{v, v / 2, 255 - v, 255})
				}
				var buf bytes.Buffer
				png.Encode(&buf, m)
				path := filepath.Join(tree, split, class, fmt.Sprintf("%d.png", i))
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				if split == "test" && i == 0 {
					images = append(images, path)
				}
			}
		}
	}
	run, source = filepath.Join(dir, "run"), "imagefolder:"+tree
	code, _, stderr := runCapture(t, "train", specPath, "--data", source, "--out", run,
		"--attack-steps", "0", "--batch", "4", "--lr", "0.05", "--test-limit", "0")
	if code != 0 {
		t.Fatalf("netc train: exit %d: %s", code, stderr)
	}
	return run, source, images
}

// TestPredictAndAttack runs netc predict and netc attack on a tiny run:
// the classes and lines the runtime's commands give, in netc.
func TestPredictAndAttack(t *testing.T) {
	run, source, images := tinyRun(t)
	m, _, _, err := train.LoadModel(interpreted, run, 0)
	if err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCapture(t, append([]string{"predict", run}, images...)...)
	if code != 0 {
		t.Fatalf("netc predict: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(images) {
		t.Fatalf("netc predict printed %d lines for %d images:\n%s", len(lines), len(images), out)
	}
	for i, path := range images {
		img, err := data.ReadImage(path, m.Spec().Input)
		if err != nil {
			t.Fatal(err)
		}
		class, probs := eval.Classify(m, img)
		if want := fmt.Sprintf("%s: class %d (p = %.4f)", path, class, probs[class]); lines[i] != want {
			t.Errorf("netc predict line %d: %q, want %q", i, lines[i], want)
		}
	}
	if code, _, stderr := runCapture(t, "predict", run); code != 2 || !strings.Contains(stderr, "PNG images") {
		t.Errorf("netc predict without images: exit %d, %q; want 2 and a message", code, stderr)
	}

	const eps = 0.1
	code, out, stderr = runCapture(t, "attack", run, "--limit", "4", "--batch", "3", "--steps", "2",
		"--eps", fmt.Sprint(eps), "--attack", "untargeted")
	if code != 0 {
		t.Fatalf("netc attack: exit %d: %s", code, stderr)
	}
	test, err := data.Load(source, "test")
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("netc attack printed %d lines, want 4:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var r struct {
			Index, Label, Clean, Adversarial int
			Linf                             float64
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("netc attack line %q: %v", l, err)
		}
		if r.Index != i || r.Label != int(test.Labels[i]) || r.Linf > eps+1e-6 {
			t.Errorf("netc attack line %d: %+v; want index %d, label %d, linf <= %g", i, r, i, test.Labels[i], eps)
		}
	}
	if !strings.Contains(stderr, "of 4 images classified right clean and at every iterate") {
		t.Errorf("netc attack's summary is missing: %s", stderr)
	}
}
