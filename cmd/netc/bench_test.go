package main

import (
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
)

func TestBenchKernelsJSON(t *testing.T) {
	code, out, stderr := runCapture(t, "bench", "kernels", "--json", "--net", "resnet20",
		"--batch", "1", "--threads", "1", "--time", "1ms")
	if code != 0 {
		t.Fatalf("netc bench kernels: exit %d: %s", code, stderr)
	}
	var rep struct {
		ISA     string             `json:"isa"`
		Peak    map[string]float64 `json:"peak_gflops"`
		Kernels []map[string]any   `json:"kernels"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("netc bench kernels --json printed %q: %v", out, err)
	}
	if dec.More() {
		t.Fatalf("netc bench kernels --json printed more than one object: %q", out)
	}
	for _, th := range []int{1, goruntime.GOMAXPROCS(0)} {
		if p := rep.Peak[fmt.Sprint(th)]; !(p > 0) {
			t.Errorf("peak_gflops[%d] = %v, want > 0 (all: %v)", th, p, rep.Peak)
		}
	}
	ops := map[string]int{}
	shapes := map[string]bool{}
	for _, k := range rep.Kernels {
		for _, key := range []string{"net", "layer", "op", "kh", "kw", "stride", "cin", "cout", "h", "w",
			"batch", "threads", "isa", "gflops", "peak_fraction"} {
			if _, ok := k[key]; !ok {
				t.Fatalf("kernel row %v lacks %q", k, key)
			}
		}
		if k["net"] != "resnet20" || k["batch"] != 1.0 || k["threads"] != 1.0 || k["isa"] != rep.ISA {
			t.Errorf("row %v: want net resnet20, batch 1, threads 1, isa %s", k, rep.ISA)
		}
		if g, _ := k["gflops"].(float64); !(g > 0) {
			t.Errorf("row %v: gflops not > 0", k)
		}
		if f, _ := k["peak_fraction"].(float64); !(f > 0) {
			t.Errorf("row %v: peak_fraction not > 0", k)
		}
		op, _ := k["op"].(string)
		ops[op]++
		shape := fmt.Sprint(op, k["kh"], k["stride"], k["cin"], k["cout"], k["h"])
		if shapes[shape] {
			t.Errorf("shape %s measured twice", shape)
		}
		shapes[shape] = true
	}
	// ResNet-20 has 8 distinct conv shapes: the stem, a 3x3 per stage, and
	// a strided 3x3 and a 1x1 shortcut into stages 2 and 3.
	for _, op := range []string{"fwd", "bwd_data", "bwd_weight"} {
		if ops[op] != 8 {
			t.Errorf("op %s: %d rows, want 8 (all: %v)", op, ops[op], ops)
		}
	}
	if len(ops) != 3 {
		t.Errorf("ops %v, want fwd, bwd_data, bwd_weight", ops)
	}
}

func TestBenchKernelsText(t *testing.T) {
	code, out, stderr := runCapture(t, "bench", "kernels", "--net", "resnet20", "--layer", "layer3.0.conv1",
		"--op", "bwd_weight", "--batch", "1", "--threads", "1", "--time", "1ms")
	if code != 0 {
		t.Fatalf("netc bench kernels: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"FMA peak", "GFLOP/s", "% peak", "layer3.0.conv1", "3x3/2 32->64 16x16", "bwd_weight"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "[1/1]") {
		t.Errorf("stderr lacks progress:\n%s", stderr)
	}
}

func TestBenchKernelsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--net", "vgg"},
		{"--op", "fwd,bwd"},
		{"--batch", "0"},
		{"--batch", "8,x"},
		{"--threads", "0"},
		{"--threads", fmt.Sprint(goruntime.GOMAXPROCS(0) + 1)},
		{"--time", "-1s"},
		{"--layer", "nosuchlayer"},
		{"--frobnicate"},
	} {
		code, _, stderr := runCapture(t, append([]string{"bench", "kernels"}, args...)...)
		if code != 2 || !strings.Contains(stderr, "netc: bench") {
			t.Errorf("netc bench kernels %v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
