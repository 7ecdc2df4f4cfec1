package plot

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/eval"
)

func evalOf(clean float64, acc ...float64) *Eval {
	e := &Eval{Checkpoint: "x.safetensors", Data: "mnist"}
	e.Clean, e.Images, e.Attack, e.Eps, e.Protocol = clean, 100, "targeted", 0.3, eval.Protocol
	for i, a := range acc {
		k := []int{10, 20, 100, 500, 2000}[i]
		e.Curve = append(e.Curve, eval.Point{Iters: k, Step: 0.01, Accuracy: a, FinalAccuracy: a, TargetSuccess: 1 - a})
	}
	return e
}

// reportOf is the `netc eval --json` output of evaluations of one model.
func reportOf(t *testing.T, es ...*Eval) *eval.Report {
	var rs []*eval.Result
	for _, e := range es {
		rs = append(rs, &e.Result)
	}
	r, err := eval.NewReport(es[0].Checkpoint, "tiny", es[0].Data, rs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func report(batch bool) *diag.Report {
	r := &diag.Report{Model: "tiny"}
	for k, br := range []string{diag.BranchClean, diag.BranchAdv} {
		l := diag.Layer{Layer: "layer2.0.bn1", Branch: br, Channels: 16}
		f := 1 + float32(k)/2 // adversarial statistics are larger
		for ch := range 16 {
			l.RunningMean = append(l.RunningMean, f*float32(ch)/10)
			l.RunningVar = append(l.RunningVar, f*(1+float32(ch*ch)/50))
			if batch {
				l.BatchMean = append(l.BatchMean, f*float32(ch)/9)
				l.BatchVar = append(l.BatchVar, f*(1.2+float32(ch*ch)/45))
			}
		}
		r.Layers = append(r.Layers, l)
	}
	if batch {
		r.Batches, r.Batch, r.Images = 2, 50, 100
	}
	return r
}

// decode checks that b is a PNG image of a plausible size.
func decode(t *testing.T, what string, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", what, err)
	}
	if r := img.Bounds(); r.Dx() < 200 || r.Dy() < 200 {
		t.Errorf("%s: image %v", what, r)
	}
}

func TestFiguresArePNG(t *testing.T) {
	a, b := evalOf(0.98, 0.95, 0.93, 0.9), evalOf(0.9, 0.4, 0.1, 0)
	for name, draw := range map[string]func(*bytes.Buffer) error{
		"curve": func(w *bytes.Buffer) error {
			return Curve(w, []Series{{"adv", a}, {"standard", b}}, Options{Title: "PGD"})
		},
		"curve one point": func(w *bytes.Buffer) error { return Curve(w, []Series{{"one", evalOf(0.5, 0.2)}}, Options{}) },
		"ratio": func(w *bytes.Buffer) error {
			return Ratio(w, []Point{{1, b}, {0, a}, {0.2, evalOf(0.93, 0.9, 0.8, 0.7)}}, Options{})
		},
		"depth": func(w *bytes.Buffer) error {
			return Depth(w, []Point{{20, a}, {56, b}}, Options{XLabel: "multiply-adds (G)"})
		},
		"depth one model": func(w *bytes.Buffer) error { return Depth(w, []Point{{20, a}}, Options{}) },
		"stats":           func(w *bytes.Buffer) error { return Stats(w, report(false), "layer2.0.bn1", Options{}) },
		"stats with batch": func(w *bytes.Buffer) error {
			return Stats(w, report(true), "", Options{}) // the only layer
		},
	} {
		var buf bytes.Buffer
		if err := draw(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		decode(t, name, buf.Bytes())
		if dir := os.Getenv("NETC_PLOT_DIR"); dir != "" { // to look at them
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".png"), buf.Bytes(), 0o644)
		}
	}
}

func TestStatsUnknownLayer(t *testing.T) {
	r := report(false)
	r.Layers = append(r.Layers, diag.Layer{Layer: "bn1", Branch: diag.BranchBN, Channels: 1, RunningMean: []float32{0}, RunningVar: []float32{1}})
	for layer, msg := range map[string]string{"": "statistics of 2 layers", "layer9": `no layer "layer9"`} {
		err := Stats(&bytes.Buffer{}, r, layer, Options{})
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "layer2.0.bn1, bn1") {
			t.Errorf("layer %q: %v, want an error listing the layers", layer, err)
		}
	}
}

func TestReadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) string {
		path := filepath.Join(dir, name)
		var b []byte
		switch v := v.(type) {
		case string:
			b = []byte(v)
		default:
			b, _ = json.Marshal(v)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.json", reportOf(t, evalOf(0.9, 0.5, 0.4)))
	stats := write("stats.json", report(true))
	if e, err := ReadEval(good); err != nil || len(e) != 1 || e[0].Clean != 0.9 || len(e[0].Curve) != 2 {
		t.Fatalf("ReadEval(good): %+v, %v", e, err)
	}
	u := evalOf(0.9, 0.3, 0.2)
	u.Attack = "untargeted"
	two := write("two-attacks.json", reportOf(t, evalOf(0.9, 0.5, 0.4), u))
	if e, err := ReadEval(two); err != nil || len(e) != 2 || e[1].Attack != "untargeted" || e[1].Curve[1].Accuracy != 0.2 {
		t.Fatalf("ReadEval(two attacks): %+v, %v", e, err)
	}
	if acc, k := evalOf(0.9, 0.5, 0.4).Robust(); acc != 0.4 || k != 20 {
		t.Errorf("Robust: %g at %d, want 0.4 at 20", acc, k)
	}
	if r, err := ReadStats(stats); err != nil || len(r.Layers) != 2 || r.Layers[1].BatchVar == nil {
		t.Fatalf("ReadStats(stats): %+v, %v", r, err)
	}
	for _, tc := range []struct {
		read func(string) error
		path string
		msg  string
	}{
		{evalErr, filepath.Join(dir, "missing.json"), "no such file"},
		{evalErr, write("syntax.json", "{\n  \"clean_accuracy\": 0.5,\n  oops\n}"), "syntax.json:3:"},
		{evalErr, write("empty.json", ""), "empty"},
		{evalErr, write("other.json", `{"images": 3}`), "not a `netc eval --json` output"},
		{evalErr, write("two.json", `{"clean_accuracy": 1, "attacks": []} {}`), "more than one"},
		{evalErr, write("badacc.json", `{"protocol": "`+eval.Protocol+`", "images": 1, "clean_accuracy": 7, "attacks": []}`), "clean accuracy 7"},
		{evalErr, write("zero.json", `{"protocol": "`+eval.Protocol+`", "images": 1, "clean_accuracy": 1, "attacks": [{"attack": "cw", "pgd": [{"iters": 0, "accuracy": 1, "final_accuracy": 1}]}]}`), "iteration count 0"},
		{evalErr, write("over.json", `{"protocol": "`+eval.Protocol+`", "images": 1, "clean_accuracy": 0.5, "attacks": [{"attack": "cw", "pgd": [{"iters": 1, "accuracy": 0.6, "final_accuracy": 1}]}]}`), "exceeds the clean accuracy"},
		{evalErr, write("protocol.json", `{"images": 1, "clean_accuracy": 1, "attacks": []}`), "protocol"},
		{evalErr, write("cleanonly.json", `{"protocol": "`+eval.Protocol+`", "images": 1, "clean_accuracy": 1, "attacks": []}`), "clean-only"},
		{evalErr, write("type.json", `{"clean_accuracy": "high", "attacks": []}`), "type.json"},
		{evalErr, stats, "a `netc stats` output"},
		{evalErr, write("emptyarray.json", `[]`), "an older `netc eval --json` output"},
		{evalErr, write("old.json", `{"clean_accuracy": 1, "pgd": [{"iters": 10, "accuracy": 1}]}`), "an older `netc eval --json` output"},
		{statsErr, write("array.json", `[{}]`), "an array"},
		{statsErr, good, "a `netc eval` output"},
		{statsErr, write("nolayers.json", `{"model": "x"}`), "no layers"},
		{statsErr, filepath.Join(dir, "missing.json"), "no such file"},
		{statsErr, write("short.json", `{"layers": [{"layer": "bn1", "branch": "bn", "channels": 2, "running_mean": [0], "running_var": [1, 1]}]}`), "bn1 [bn]: 2 channels but 1 running means"},
	} {
		err := tc.read(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want an error naming the file and saying %q", filepath.Base(tc.path), err, tc.msg)
		}
	}
}

func evalErr(path string) error  { _, err := ReadEval(path); return err }
func statsErr(path string) error { _, err := ReadStats(path); return err }
