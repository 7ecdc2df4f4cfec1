package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/eval"
)

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	protocol := `"protocol": "` + eval.Protocol + `", `
	a := write("adv.json", `{"checkpoint": "a", "data": "mnist", "images": 10, "clean_accuracy": 0.98, `+protocol+`"attacks": [{"attack": "targeted",
		"pgd": [{"iters": 10, "step": 0.1, "accuracy": 0.9, "final_accuracy": 0.9}, {"iters": 100, "step": 0.01, "accuracy": 0.8, "final_accuracy": 0.85}]}]}`)
	b := write("std.json", `{"images": 10, "clean_accuracy": 0.99, `+protocol+`"attacks": [
		{"attack": "targeted", "pgd": [{"iters": 10, "accuracy": 0.1, "final_accuracy": 0.1}, {"iters": 100, "accuracy": 0, "final_accuracy": 0}]},
		{"attack": "untargeted", "pgd": [{"iters": 10, "accuracy": 0.05, "final_accuracy": 0.1}, {"iters": 100, "accuracy": 0, "final_accuracy": 0}]}]}`)
	old := write("old.json", `{"clean_accuracy": 0.99, "attack": "targeted", "pgd": [{"iters": 10, "accuracy": 0.1}]}`)
	code, statsJSON, stderr := runCapture(t, "stats", mnistCkpt, "--block", "layer1", "--json")
	if code != 0 {
		t.Fatal(stderr)
	}
	stats := write("stats.json", statsJSON)
	png1 := filepath.Join(dir, "fig.png")
	for _, args := range [][]string{
		{"plot", "curve", a, b, "-o", png1},
		{"plot", "curve", a, b, "--label", "adversarial,standard", "--attack", "targeted", "-o", png1, "--title", "PGD"},
		{"plot", "curve", a, b, "--final", "-o", png1},
		{"plot", "ratio", "--x", "0,1", a, b, "--final", "-o", png1},
		{"plot", "ratio", "--x", "0,1", a, b, "-o", png1},
		{"plot", "depth", "--x", "20,56", "--xlabel", "layers", a, b, "-o", png1},
		{"plot", "stats", stats, "--layer", "layer1.0.bn2", "-o", png1},
	} {
		os.Remove(png1)
		if code, _, stderr := runCapture(t, args...); code != 0 {
			t.Fatalf("netc %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		f, err := os.Open(png1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("netc %s: %v", strings.Join(args, " "), err)
		}
	}
	bad := write("bad.json", `{"clean_accuracy": 0.5,`)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"plot"}, "want a KIND"},
		{[]string{"plot", "pie", a, "-o", png1}, `unknown kind "pie"`},
		{[]string{"plot", "curve", a}, "want -o"},
		{[]string{"plot", "curve", a, "-o", "fig.svg"}, ".png"},
		{[]string{"plot", "curve", "-o", png1}, "want input files"},
		{[]string{"plot", "curve", bad, "-o", png1}, bad},
		{[]string{"plot", "curve", filepath.Join(dir, "missing.json"), "-o", png1}, "missing.json"},
		{[]string{"plot", "curve", stats, "-o", png1}, stats + ": a `netc stats` output"},
		{[]string{"plot", "curve", a, b, "--label", "one", "-o", png1}, "1 labels for 2 inputs"},
		{[]string{"plot", "curve", a, b, "--attack", "untargeted", "-o", png1}, a + ": no untargeted attack (it has targeted)"},
		{[]string{"plot", "ratio", a, b, "-o", png1}, "want --x"},
		{[]string{"plot", "ratio", "--x", "0,x", a, b, "-o", png1}, `bad number "x"`},
		{[]string{"plot", "depth", "--x", "1", a, b, "-o", png1}, "1 values for 2 inputs"},
		{[]string{"plot", "stats", a, "-o", png1}, a + ": a `netc eval` output"},
		{[]string{"plot", "curve", old, "-o", png1}, old + ": an older `netc eval --json` output"},
		{[]string{"plot", "stats", stats, "--final", "-o", png1}, "--final is for curve, ratio and depth"},
		{[]string{"plot", "stats", stats, "-o", png1}, stats + ": statistics of 2 layers"},
		{[]string{"plot", "stats", stats, "--layer", "bn1", "-o", png1}, `no layer "bn1"`},
		{[]string{"plot", "stats", stats, a, "-o", png1}, "want one"},
		{[]string{"plot", "curve", a, "-o", filepath.Join(dir, "no", "such", "dir.png")}, "dir.png"},
	} {
		code, _, stderr := runCapture(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("netc %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.msg)
		}
	}
}
