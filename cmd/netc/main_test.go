package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCapture runs netc with args and returns its exit status, stdout and
// stderr.
func runCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return capture(t, func() int { return run(args) })
}

// capture runs f and returns the exit status it returns, and what it
// printed on stdout and stderr.
func capture(t *testing.T, f func() int) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	outF, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outF, errF
	code := f()
	os.Stdout, os.Stderr = oldOut, oldErr
	outF.Close()
	errF.Close()
	stdout, _ := os.ReadFile(outF.Name())
	stderr, _ := os.ReadFile(errF.Name())
	return code, string(stdout), string(stderr)
}

func TestCheckJSONCounts(t *testing.T) {
	for _, tc := range []struct {
		spec         string
		params, macs int64
	}{
		{"../../specs/resnet50.spec", 25557032, 4089184256},
		{"../../specs/resnet152.spec", 60192808, 0},
	} {
		code, out, stderr := runCapture(t, "check", "--json", tc.spec)
		if code != 0 {
			t.Fatalf("netc check %s: exit %d: %s", tc.spec, code, stderr)
		}
		var got struct {
			Params int64 `json:"params"`
			MACs   int64 `json:"macs"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("netc check --json printed %q: %v", out, err)
		}
		if got.Params != tc.params || (tc.macs != 0 && got.MACs != tc.macs) {
			t.Errorf("%s: params %d, macs %d; want %d, %d", tc.spec, got.Params, got.MACs, tc.params, tc.macs)
		}
	}
}

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	badSpec := filepath.Join(dir, "bad.spec")
	os.WriteFile(badSpec, []byte("model x\ninput 1 28 28\nclasses ten\n"), 0o644)
	badCkpt := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(badCkpt, []byte("not a checkpoint"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"check", "../../specs/mnist-resnet.spec"}, 0, ""},
		{[]string{"check", badSpec}, 2, badSpec + ":3:9:"},
		{[]string{"check", filepath.Join(dir, "missing.spec")}, 2, "missing.spec"},
		{[]string{"check"}, 2, "want one SPEC"},
		{[]string{"check", "--batch", "x", "a.spec"}, 2, "invalid value"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"bench", "models"}, 2, "want 'kernels'"},
		{[]string{"eval", badCkpt, "--data", "mnist"}, 2, badCkpt},
		{[]string{"eval", dir, "--data", "mnist"}, 2, "last.safetensors"},
		{[]string{"train", "../../specs/mnist-resnet.spec", "--out", dir, "--epochs", "0"}, 2, "epochs"},
		{[]string{"train", "../../specs/mnist-resnet.spec", "--out", dir, "--eps", "1/0"}, 2, "eps"},
		{[]string{"eval", badCkpt, "--attack", "sideways"}, 2, "unknown attack"},
		{[]string{"eval", badCkpt, "--restarts", "x"}, 2, "invalid value"},
		{[]string{"finetune-norm", badCkpt, "--out", dir}, 2, badCkpt},
		{[]string{"finetune-norm", "--out", dir}, 2, "want one RUN folder or checkpoint"},
		{[]string{"reproduce", "imagenet"}, 2, "unknown grid"},
		{[]string{"reproduce", "mnist", "--row", "nope"}, 2, `no row "nope"`},
	} {
		code, _, stderr := runCapture(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("netc %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.msg)
		}
	}
}

func TestFmtIsIdempotentOnSpecs(t *testing.T) {
	files, _ := filepath.Glob("../../specs/*.spec")
	if len(files) < 6 {
		t.Fatalf("found %d specs, want at least 6", len(files))
	}
	for _, f := range files {
		code, once, stderr := runCapture(t, "fmt", f)
		if code != 0 {
			t.Fatalf("netc fmt %s: exit %d: %s", f, code, stderr)
		}
		tmp := filepath.Join(t.TempDir(), filepath.Base(f))
		os.WriteFile(tmp, []byte(once), 0o644)
		_, twice, _ := runCapture(t, "fmt", tmp)
		if once != twice {
			t.Errorf("netc fmt is not idempotent on %s:\n%s\nthen\n%s", f, once, twice)
		}
	}
}
