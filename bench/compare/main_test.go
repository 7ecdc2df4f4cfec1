package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	netcLine  = `{"model":"resnet20cifar","batch":128,"threads":1,"isa":"avx2","inference":900,"train_step":300,"attack_step":400,"adv_train_step_pgd10":35}`
	torchLine = `{"impl":"pytorch","version":"1.13.0a0","model":"resnet20cifar","batch":128,"threads":1,"inference":600.5,"train_step":250,"attack_step":320,"adv_train_step_pgd10":30}`
)

func TestParseResult(t *testing.T) {
	n, err := ParseResult("netc", []byte("\n"+netcLine+"\n\n"), 128, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n.Info != "avx2" || n.Rate["inference"] != 900 || n.Rate["adv_train_step_pgd10"] != 35 || n.Batch != 128 || n.Threads != 1 {
		t.Errorf("netc: %+v", n)
	}
	p, err := ParseResult("pytorch", []byte(torchLine+"\n"), 128, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Info != "1.13.0a0" || p.Rate["inference"] != 600.5 {
		t.Errorf("pytorch: %+v", p)
	}
	// Extra keys are allowed.
	if _, err := ParseResult("netc", []byte(strings.Replace(netcLine, "{", `{"extra":[1,2],`, 1)), 128, 1); err != nil {
		t.Error(err)
	}
}

func TestParseResultErrors(t *testing.T) {
	drop := func(line, key string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, key)
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		side, out string
		threads   int
		want      string
	}{
		{"netc", drop(netcLine, "attack_step"), 1, `netc: JSON has no "attack_step" key`},
		{"netc", drop(netcLine, "isa"), 1, `netc: JSON has no "isa" key`},
		{"pytorch", drop(torchLine, "adv_train_step_pgd10"), 1, `pytorch: JSON has no "adv_train_step_pgd10" key`},
		{"pytorch", drop(torchLine, "version"), 1, `pytorch: JSON has no "version" key`},
		{"pytorch", netcLine, 1, `pytorch: JSON has no "impl" key`},
		{"netc", "", 1, "netc: want one JSON line on stdout, got 0 lines"},
		{"netc", "hello\n" + netcLine, 1, "netc: want one JSON line on stdout, got 2 lines"},
		{"netc", "not json", 1, "netc: stdout is not a JSON object"},
		{"netc", netcLine, 2, "netc: threads is 1, want 2"},
		{"netc", strings.Replace(netcLine, `"resnet20cifar"`, `"resnet50"`, 1), 1, `netc: model is "resnet50"`},
		{"netc", strings.Replace(netcLine, `"inference":900`, `"inference":"fast"`, 1), 1, `netc: "inference" is not a number`},
		{"netc", strings.Replace(netcLine, `"inference":900`, `"inference":0`, 1), 1, "netc: inference is 0 images/s"},
		{"pytorch", strings.Replace(torchLine, `"pytorch"`, `"tf"`, 1), 1, `pytorch: impl is "tf"`},
	} {
		_, err := ParseResult(tc.side, []byte(tc.out), 128, tc.threads)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want %q", tc.side, tc.out, err, tc.want)
		}
	}
}

func TestBestRatiosTableJSON(t *testing.T) {
	mk := func(side string, rates ...float64) *Result {
		r := &Result{Side: side, Info: "x", Batch: 128, Threads: 2, Rate: map[string]float64{}}
		for i, w := range Workloads {
			r.Rate[w] = rates[i]
		}
		return r
	}
	bn := Best([]*Result{mk("netc", 100, 50, 40, 4), mk("netc", 90, 60, 45, 3)})
	bp := Best([]*Result{mk("pytorch", 80, 40, 50, 5), mk("pytorch", 70, 45, 30, 6)})
	want := map[string]float64{"inference": 100.0 / 80, "train_step": 60.0 / 45, "attack_step": 45.0 / 50, "adv_train_step_pgd10": 4.0 / 6}
	q := Ratios(bn, bp)
	for w, r := range want {
		if q[w] != r {
			t.Errorf("%s: ratio %v, want %v", w, q[w], r)
		}
	}

	var tb bytes.Buffer
	Table(&tb, 2, bn, bp)
	for _, s := range []string{"2 thread(s)", "netc/pytorch", "train_step", "60.0", "45.0", "1.33x", "0.67x"} {
		if !strings.Contains(tb.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tb.String())
		}
	}

	data := EncodeRatios([]ThreadRatios{{1, q}, {2, Ratios(bp, bn)}, {10, q}})
	var m map[string]map[string]float64
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(m) != 3 || len(m["1"]) != 4 || m["1"]["inference"] != 1.25 || m["1"]["train_step"] != 1.33 || m["2"]["attack_step"] != 1.11 {
		t.Errorf("ratios file %v:\n%s", m, data)
	}
	s := string(data)
	if strings.Index(s, `"2"`) > strings.Index(s, `"10"`) || strings.Index(s, `"inference"`) > strings.Index(s, `"adv_train_step_pgd10"`) {
		t.Errorf("order:\n%s", s)
	}

	out := filepath.Join(t.TempDir(), "sub", "compare.json")
	if err := WriteAtomic(out, data); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(out, data); err != nil { // replace
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %q, %v", got, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("leftover temporary files: %v", ents)
	}
}

func TestParseThreads(t *testing.T) {
	ts, err := ParseThreads(" 1, 2,2,")
	if err != nil || len(ts) != 2 || ts[0] != 1 || ts[1] != 2 {
		t.Errorf("%v %v", ts, err)
	}
	for _, s := range []string{"", "0", "a", "1,-2"} {
		if _, err := ParseThreads(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}
