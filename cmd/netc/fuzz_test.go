package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netc/netc/plot"
	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/eval"
)

// FuzzPlotInputs feeds netc plot's readers (plot.ReadEval, plot.ReadStats)
// any file: they never panic, an error names the file, no file is both
// an eval and a stats output, and what they accept is well formed and
// reads back the same once written again.
func FuzzPlotInputs(f *testing.F) {
	e := &eval.Result{Images: 4, Clean: 0.75, Branch: "adv", Protocol: eval.Protocol, AttackResult: eval.AttackResult{
		Attack: "targeted", Eps: 0.3, Step: 0.01, Norm: "running", Seed: 1, Restarts: 1,
		Curve: []eval.Point{{Iters: 10, Step: 0.03, Accuracy: 0.5, FinalAccuracy: 0.5, TargetSuccess: 0.25, FinalTargetSuccess: 0.25},
			{Iters: 100, Step: 0.01, Accuracy: 0.25, FinalAccuracy: 0.5}}}}
	r, err := eval.NewReport("run/checkpoints/last.safetensors", "tiny", "mnist", []*eval.Result{e})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(r)
	f.Add(good)
	r.Attacks = []eval.AttackResult{}
	clean, _ := json.Marshal(r)
	f.Add(clean)
	var stats bytes.Buffer
	rep := &diag.Report{Model: "tiny", Layers: []diag.Layer{{Layer: "bn1", Branch: "bn", Channels: 2, RunningMean: []float32{0, 1}, RunningVar: []float32{1, 2}}}}
	if err := rep.WriteJSON(&stats); err != nil {
		f.Fatal(err)
	}
	f.Add(stats.Bytes())
	for _, s := range []string{"", "{}", "[]", "null", `{"clean_accuracy": 1, "pgd": [{"iters": 10, "accuracy": 1}]}`,
		`[{"clean_accuracy": 1, "pgd": []}]`, `{"layers": []}`, `{"clean_accuracy": 0.5, "attacks": [{}]}`} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "input.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		es, evalErr := plot.ReadEval(path)
		st, statsErr := plot.ReadStats(path)
		if evalErr == nil && statsErr == nil {
			t.Fatalf("%q reads both as an eval and as a stats output", b)
		}
		for _, err := range []error{evalErr, statsErr} {
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		}
		if evalErr == nil {
			checkEvals(t, es)
			again := filepath.Join(dir, "again.json")
			writeEvals(t, again, es)
			es2, err := plot.ReadEval(again)
			if err != nil {
				t.Fatalf("written again, %q does not read back: %v", b, err)
			}
			if a, z := marshal(t, es), marshal(t, es2); !bytes.Equal(a, z) {
				t.Fatalf("round trip of %q: %s, then %s", b, a, z)
			}
		}
		if statsErr == nil {
			if err := st.Validate(); err != nil {
				t.Fatalf("accepted a stats report that does not validate: %v", err)
			}
			var w bytes.Buffer
			if err := st.WriteJSON(&w); err != nil {
				t.Fatalf("accepted a stats report that does not write: %v", err)
			}
			again := filepath.Join(dir, "again.json")
			if err := os.WriteFile(again, w.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			st2, err := plot.ReadStats(again)
			if err != nil {
				t.Fatalf("written again, %q does not read back: %v", b, err)
			}
			if a, z := marshal(t, st), marshal(t, st2); !bytes.Equal(a, z) {
				t.Fatalf("round trip of %q: %s, then %s", b, a, z)
			}
		}
	})
}

// checkEvals checks what an accepted eval output promises its plots.
func checkEvals(t *testing.T, es []*plot.Eval) {
	t.Helper()
	if len(es) == 0 {
		t.Fatal("accepted an eval output with no attack")
	}
	for _, e := range es {
		if !(e.Clean >= 0 && e.Clean <= 1) || len(e.Curve) == 0 {
			t.Fatalf("accepted clean accuracy %g with %d points", e.Clean, len(e.Curve))
		}
		for i, p := range e.Curve {
			rises := i > 0 && (p.Iters <= e.Curve[i-1].Iters || p.Accuracy > e.Curve[i-1].Accuracy)
			if p.Iters < 1 || rises || !(p.Accuracy >= 0 && p.Accuracy <= p.FinalAccuracy && p.FinalAccuracy <= 1) || p.Accuracy > e.Clean {
				t.Fatalf("accepted point %+v (clean %g, curve %+v)", p, e.Clean, e.Curve)
			}
		}
		if acc, k := e.Robust(); k != e.Curve[len(e.Curve)-1].Iters || acc != e.Curve[len(e.Curve)-1].Accuracy {
			t.Fatalf("Robust: %g at %d for curve %+v", acc, k, e.Curve)
		}
	}
}

// writeEvals writes evaluations of one model as netc eval --json does.
func writeEvals(t *testing.T, path string, es []*plot.Eval) {
	t.Helper()
	var rs []*eval.Result
	for _, e := range es {
		rs = append(rs, &e.Result)
	}
	r, err := eval.NewReport(es[0].Checkpoint, "model", es[0].Data, rs)
	if err != nil {
		t.Fatalf("evaluations read from one file do not make a report: %v", err)
	}
	if err := os.WriteFile(path, marshal(t, r), 0o644); err != nil {
		t.Fatal(err)
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzPGDList feeds eval's --pgd parser (cli.PGDCounts over cli.Ints)
// any string: it never panics; it accepts exactly the comma-separated
// lists of integers that are all >= 1, or "0" alone (clean only, no
// counts); what it accepts prints back to a list that parses the same;
// its errors quote the list.
func FuzzPGDList(f *testing.F) {
	for _, s := range []string{"10,100", "0", " 1, 2 ,3", "", ",", "-1", "0,10", "1e3", "+5", "99999999999999999999", "10,,20", "1\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ints, intsErr := cli.Ints(s)
		counts, err := cli.PGDCounts(s)
		fields := strings.Split(s, ",")
		var want []int
		wantErr := false
		for _, field := range fields {
			v, err := strconv.Atoi(strings.TrimSpace(field))
			wantErr = wantErr || err != nil
			want = append(want, v)
		}
		if (intsErr != nil) != wantErr || intsErr == nil && !slices.Equal(ints, want) {
			t.Fatalf("Ints(%q) = %v, %v; want %v (error %v)", s, ints, intsErr, want, wantErr)
		}
		if intsErr != nil {
			if err == nil || !strings.Contains(intsErr.Error(), strconv.Quote(s)) {
				t.Fatalf("Ints(%q): error %v does not quote the list (PGDCounts: %v)", s, intsErr, err)
			}
			return
		}
		cleanOnly := len(want) == 1 && want[0] == 0
		valid := cleanOnly || !slices.ContainsFunc(want, func(k int) bool { return k < 1 })
		switch {
		case valid != (err == nil):
			t.Fatalf("PGDCounts(%q) = %v, %v; want an error: %v", s, counts, err, !valid)
		case err != nil:
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("PGDCounts(%q): error %v does not quote the list", s, err)
			}
			return
		case cleanOnly && counts != nil, !cleanOnly && !slices.Equal(counts, want):
			t.Fatalf("PGDCounts(%q) = %v, want %v", s, counts, want)
		}
		if cleanOnly {
			return
		}
		printed := make([]string, len(counts))
		for i, k := range counts {
			printed[i] = strconv.Itoa(k)
		}
		back, err := cli.PGDCounts(strings.Join(printed, ","))
		if err != nil || !slices.Equal(back, counts) {
			t.Fatalf("PGDCounts(%q) = %v, printed back %v, %v", s, counts, back, err)
		}
		if err := (&eval.Config{Iters: counts, Batch: 1}).Validate(); err != nil {
			t.Fatalf("PGDCounts(%q) = %v, which eval refuses: %v", s, counts, err)
		}
	})
}
