package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/train"
)

// mnistCkpt is a real checkpoint of the default spec (plain BN).
const mnistCkpt = "../../generated/mnistresnet/weights.ckpt"

// tinyMNIST writes n synthetic 28×28 test images as MNIST IDX files and
// returns the --data source of them.
func tinyMNIST(t *testing.T, n int) string {
	t.Helper()
	d := data.Synthetic(n, 1, 28, 28, 10, 1)
	dir := t.TempDir()
	var img, lab bytes.Buffer
	binary.Write(&img, binary.BigEndian, []uint32{0x803, uint32(n), 28, 28})
	img.Write(d.Pixels)
	binary.Write(&lab, binary.BigEndian, []uint32{0x801, uint32(n)})
	lab.Write(d.Labels)
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), img.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), lab.Bytes(), 0o644)
	return "mnist:" + dir
}

func TestStatsRunning(t *testing.T) {
	before, err := os.ReadFile(mnistCkpt)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCapture(t, "stats", mnistCkpt, "--block", "layer2.0", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r diag.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stats --json printed %q: %v", out, err)
	}
	var names []string
	for _, l := range r.Layers {
		names = append(names, l.Layer+"["+l.Branch+"]")
	}
	if want := []string{"layer2.0.bn1[bn]", "layer2.0.bn2[bn]", "layer2.0.downsample.1[bn]"}; !slices.Equal(names, want) {
		t.Errorf("layers %v, want %v", names, want)
	}
	m, _, _, err := train.LoadModel(interpreted, mnistCkpt, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range m.NormState() {
		if st.Name == "layer2.0.bn2" && (!slices.Equal(st.Mean, r.Layers[1].RunningMean) || !slices.Equal(st.Var, r.Layers[1].RunningVar)) {
			t.Errorf("layer2.0.bn2: reported running statistics differ from the checkpoint's")
		}
	}
	if r.Layers[0].BatchMean != nil || r.Batches != 0 || r.Checkpoint != mnistCkpt {
		t.Errorf("report without --batches: %+v", r)
	}

	src := tinyMNIST(t, 10)
	code, out, stderr = runCapture(t, "stats", mnistCkpt, "--block", "layer3.0.bn1", "--batches", "2", "--batch", "4", "--data", src, "--csv")
	if code != 0 {
		t.Fatalf("--csv: exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+64 || len(rows[0]) != 7 || rows[64][0] != "layer3.0.bn1" || rows[64][2] != "63" {
		t.Errorf("CSV: %d rows, first %v, last %v", len(rows), rows[0], rows[len(rows)-1])
	}

	code, out, stderr = runCapture(t, "stats", mnistCkpt, "--block", "bn1", "--batches", "1", "--batch", "4", "--data", src,
		"--adversarial", "--attack-steps", "2", "--eps", "0.3", "--attack", "untargeted")
	if code != 0 {
		t.Fatalf("--adversarial: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "4 adversarial test images") || !strings.Contains(out, "untargeted PGD-2, eps 0.3") || !strings.Contains(out, "batch_mean") {
		t.Errorf("table:\n%s", out)
	}
	if after, _ := os.ReadFile(mnistCkpt); !bytes.Equal(before, after) {
		t.Errorf("netc stats changed %s", mnistCkpt)
	}
}

func TestStatsBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"stats"}, "want one RUN"},
		{[]string{"stats", filepath.Join(dir, "missing.safetensors")}, "missing.safetensors"},
		{[]string{"stats", dir}, "last.safetensors"},
		{[]string{"stats", mnistCkpt, "--block", "layer9"}, `no BN layer of mnistresnet matches "layer9" (layers: bn1, layer1.0.bn1`},
		{[]string{"stats", mnistCkpt, "--json", "--csv"}, "exclude"},
		{[]string{"stats", mnistCkpt, "--adversarial"}, "needs --batches"},
		{[]string{"stats", mnistCkpt, "--batches", "1", "--batch", "0"}, "--batch 0"},
		{[]string{"stats", mnistCkpt, "--branch", "both,adv"}, "--branch"},
		{[]string{"stats", mnistCkpt, "--batches", "1", "--data", "mnist:" + dir}, dir},
		{[]string{"stats", mnistCkpt, "--attack", "sideways"}, "--attack"},
	} {
		code, _, stderr := runCapture(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("netc %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.msg)
		}
	}
}
