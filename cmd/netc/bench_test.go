package main

import (
	"encoding/json"
	"fmt"
	"runtime"
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
		ISA      string             `json:"isa"`
		Peak     map[string]float64 `json:"peak_gflops"`
		Kernels  []map[string]any   `json:"kernels"`
		Warnings *[]string          `json:"warnings"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("netc bench kernels --json printed %q: %v", out, err)
	}
	if dec.More() {
		t.Fatalf("netc bench kernels --json printed more than one object: %q", out)
	}
	if rep.Warnings == nil {
		t.Errorf("netc bench kernels --json has no warnings array: %q", out)
	}
	for _, th := range []int{1, runtime.GOMAXPROCS(0)} {
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
		{"--threads", fmt.Sprint(runtime.GOMAXPROCS(0) + 1)},
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

// TestBenchWarnings checks the warnings of fabricated measurements: a
// figure above the peak of its thread count, a peak that falls with more
// threads, and none for sound ones.
func TestBenchWarnings(t *testing.T) {
	kernel := func(layer string, threads int, frac float64) benchKernel {
		return benchKernel{Net: "resnet20", Layer: layer, Op: "fwd", Batch: 8, Threads: threads, PeakFraction: frac}
	}
	for _, tc := range []struct {
		name string
		rep  benchReport
		n    int      // warnings
		want []string // substrings of them
	}{
		{"sound", benchReport{Peak: map[string]float64{"1": 100, "2": 190},
			Kernels: []benchKernel{kernel("conv1", 1, 0.8), kernel("conv1", 2, 1)}}, 0, nil},
		{"above the peak", benchReport{Peak: map[string]float64{"1": 100, "2": 190},
			Kernels: []benchKernel{kernel("conv1", 1, 1.05), kernel("layer1.0.conv1", 2, 1.2), kernel("layer2.0.conv1", 2, 0.7)}},
			1, []string{"2 of 3 figures exceed 100% of the measured peak", "up to 120.0%: resnet20 layer1.0.conv1 fwd, batch 8, 2 thread(s)", "rerun"}},
		{"2 threads below 1", benchReport{Peak: map[string]float64{"1": 100, "2": 90}},
			1, []string{"peak on 2 threads (90.0 GFLOP/s) is below that on 1 (100.0 GFLOP/s)", "rerun"}},
		{"4 threads below 2", benchReport{Peak: map[string]float64{"1": 50, "2": 100, "4": 99}},
			1, []string{"peak on 4 threads (99.0 GFLOP/s) is below that on 2 (100.0 GFLOP/s)"}},
		{"both", benchReport{Peak: map[string]float64{"1": 100, "2": 90}, Kernels: []benchKernel{kernel("conv1", 2, 1.01)}},
			2, []string{"below that on 1", "1 of 1 figures exceed"}},
	} {
		got := benchWarnings(tc.rep)
		if len(got) != tc.n {
			t.Errorf("%s: warnings %q, want %d", tc.name, got, tc.n)
			continue
		}
		all := strings.Join(got, "\n")
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: warnings %q, want one containing %q", tc.name, got, w)
			}
		}
	}
}
