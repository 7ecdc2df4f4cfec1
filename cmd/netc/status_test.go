package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/ckpt"
	"github.com/netc/netc/runtime/kernels"
	rtrain "github.com/netc/netc/runtime/train"
)

// writeImageFolder writes an ImageFolder tree of 8x8 PNGs under dir, two
// images per class folder of each split, and returns dir.
func writeImageFolder(t *testing.T, dir string, splits map[string][]string) string {
	t.Helper()
	var buf bytes.Buffer
	m := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	m.Set(0, 0, color.NRGBA{1, 2, 3, 255})
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	for split, classes := range splits {
		for _, c := range classes {
			d := filepath.Join(dir, split, c)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%d.png", i)), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return dir
}

// writeSpec writes a small spec for 3x8x8 images with the given model
// name, classes and width, and returns its path.
func writeSpec(t *testing.T, dir, model string, classes, width int) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.spec", model, classes, width))
	src := fmt.Sprintf("model %s\ninput 3 8 8\nclasses %d\nstem cifar\nblock basic\nstages 1 1 1\nwidth %d\n", model, classes, width)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The commands only this test registers: internal errors on demand, on
// the command's goroutine and on a worker of the kernels' pool.
var testCommands = []command{
	{"test-panic", "", "panic (test only)", func([]string) error { panic("test panic on the command's goroutine") }},
	{"test-worker-panic", "", "panic on a pool worker (test only)", func([]string) error {
		kernels.Parallel(kernels.Threads(), func(lo, hi int) {
			if lo > 0 {
				panic(fmt.Sprintf("test panic on the worker of part %d", lo))
			}
		})
		return nil
	}},
}

// TestExitStatuses runs netc on inputs of every kind and checks the exit
// status: 0 ok, 1 runtime or environment failure, 2 bad input, 3 internal
// error, with the message each must print.
func TestExitStatuses(t *testing.T) {
	commands = append(commands, testCommands...)
	defer func() { commands = commands[:len(commands)-len(testCommands)] }()
	dir := t.TempDir()
	four := []string{"a", "b", "c", "d"}
	tree := writeImageFolder(t, filepath.Join(dir, "tree"), map[string][]string{"train": four, "test": four})
	lacking := writeImageFolder(t, filepath.Join(dir, "lacking"), map[string][]string{"train": four, "test": four[:3]})
	renamed := writeImageFolder(t, filepath.Join(dir, "renamed"), map[string][]string{"train": four, "test": {"a", "b", "c", "e"}})
	emptyClass := writeImageFolder(t, filepath.Join(dir, "empty"), map[string][]string{"train": four})
	os.MkdirAll(filepath.Join(emptyClass, "train", "f"), 0o755)
	spec4, spec5 := writeSpec(t, dir, "tiny", 4, 16), writeSpec(t, dir, "tiny", 5, 16)
	train := func(spec, data string, more ...string) []string {
		return append([]string{"train", spec, "--data", "imagefolder:" + data, "--out", t.TempDir(), "--batch", "4", "--attack-steps", "0"}, more...)
	}
	run := t.TempDir()
	if code, _, stderr := runCapture(t, "train", spec4, "--data", "imagefolder:"+tree, "--out", run, "--batch", "4", "--attack-steps", "0"); code != 0 {
		t.Fatalf("netc train: exit %d: %s", code, stderr)
	}
	// Checkpoints whose metadata hold the spec (width 1048576) and
	// one within the limits but far too large for any machine: eval, stats
	// and finetune-norm built their models and died out of memory.
	hugeCkpt := func(name, spec string) string {
		p := filepath.Join(dir, name)
		if err := ckpt.Save(p, nil, rtrain.Meta{Format: rtrain.Format, Spec: spec}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wideSpec := "model wide\ninput 3 32 32\nclasses 10\nstem cifar\nblock basic\nstages 1 1 1\nwidth 1048576\n"
	wideCkpt := hugeCkpt("wide.safetensors", wideSpec)
	bigCkpt := hugeCkpt("big.safetensors", "model big\ninput 3 224 224\nclasses 1000\nstem imagenet\nblock bottleneck\nstages 3 82 124 3\nwidth 4096\n")
	eval := func(data string, more ...string) []string {
		return append([]string{"eval", run, "--data", "imagefolder:" + data, "--pgd", "1"}, more...)
	}
	for _, tc := range []struct {
		name string
		env  string // NAME=VALUE set for the run
		args []string
		code int
		msg  string // a regular expression stderr must match
	}{
		{name: "ok", args: []string{"check", "../../specs/mnist-resnet.spec"}, code: 0},
		{name: "help", args: []string{"help"}, code: 0},
		{name: "unwritable profile", env: "NETC_CPUPROFILE=" + filepath.Join(dir, "no", "such", "folder", "prof"),
			args: []string{"check", "../../specs/mnist-resnet.spec"}, code: 1, msg: "NETC_CPUPROFILE: .*no such file"},
		{name: "ISA this CPU lacks", env: "NETC_ISA=sse1", args: []string{"check", "../../specs/mnist-resnet.spec"}, code: 2,
			msg: `^netc: NETC_ISA: "sse1" is not available: this CPU and build offer \[generic`},
		{name: "bad spec", args: []string{"check", writeSpec(t, dir, "main", 4, 16)}, code: 2, msg: `main-4-16.spec:1:7: model name "main"`},
		{name: "huge width", args: []string{"check", writeSpec(t, dir, "wide", 4, 1<<20)}, code: 2, msg: `wide-4-1048576.spec:7:7: width must be between 1 and 4096, got 1048576`},
		{name: "classes differ", args: train(spec5, tree), code: 2, msg: `imagefolder/train \(.*tree\): 4 classes but .*tiny-5-16.spec has classes 5; they must be equal`},
		{name: "test split lacks a class", args: train(spec4, lacking), code: 2, msg: `imagefolder/test \(.*lacking\): 3 classes but .*tiny-4-16.spec has classes 4`},
		{name: "test split renames a class", args: train(spec4, renamed), code: 2, msg: `class "d" is in imagefolder/train \(.*renamed\) but not in imagefolder/test`},
		{name: "empty class folder", args: train(spec4, emptyClass), code: 2, msg: `class folder train/f/ has no images`},
		{name: "eval", args: eval(tree), code: 0},
		{name: "eval on a test split that lacks a class", args: eval(lacking), code: 2, msg: `imagefolder/test \(.*lacking\): 3 classes but .*last.safetensors\[spec\] has classes 4`},
		{name: "eval on a test split that renames a class", args: eval(renamed), code: 2, msg: `class "d" is in imagefolder/train \(.*renamed\) but not in imagefolder/test`},
		{name: "eval without a random start", args: eval(tree, "--restarts", "0"), code: 2, msg: `--restarts 0: want >= 1`},
		{name: "eval of one attack twice", args: eval(tree, "--attack", "targeted,targeted"), code: 2, msg: `--attack "targeted,targeted": targeted twice`},
		{name: "eval memory limit", args: eval(tree, "--memory", "1KiB"), code: 2, msg: `last.safetensors\[spec\]: a step of 1 image needs at least`},
		{name: "eval of a checkpoint with a huge width", args: []string{"eval", wideCkpt, "--data", "imagefolder:" + tree},
			code: 2, msg: `wide.safetensors: its spec does not parse: .*width must be between 1 and 4096, got 1048576`},
		{name: "stats of a checkpoint with a huge width", args: []string{"stats", wideCkpt}, code: 2, msg: `wide.safetensors: its spec does not parse`},
		{name: "finetune-norm of a checkpoint with a huge width", args: []string{"finetune-norm", wideCkpt, "--out", t.TempDir()},
			code: 2, msg: `wide.safetensors: its spec does not parse`},
		{name: "eval of a checkpoint too large for memory", args: []string{"eval", bigCkpt, "--data", "imagefolder:" + tree},
			code: 2, msg: `big.safetensors\[spec\]: a step of 1 image needs at least .* TiB .* more than the`},
		{name: "stats of a checkpoint too large for memory", args: []string{"stats", bigCkpt}, code: 2, msg: `big.safetensors\[spec\]: a step of 1 image`},
		{name: "finetune-norm of a checkpoint too large for memory", args: []string{"finetune-norm", bigCkpt, "--out", t.TempDir(), "--data", "imagefolder:" + tree},
			code: 2, msg: `big.safetensors\[spec\]: a step of [0-9]+ images? needs`},
		{name: "memory limit", args: train(spec4, tree, "--memory", "64KiB"), code: 2, msg: `tiny-4-16.spec: a step of 4 images needs at least .* more than the 64.0 KiB of memory --memory allows`},
		{name: "bad memory flag", args: train(spec4, tree, "--memory", "lots"), code: 2, msg: `invalid value "lots" for flag -memory`},
		{name: "panic", args: []string{"test-panic"}, code: 3,
			msg: `^netc: internal error: test panic on the command's goroutine; stack trace written to (.*netc-crash-[0-9]+-[0-9-]+-[0-9]+\.txt)\n$`},
		{name: "worker panic", args: []string{"test-worker-panic"}, code: 3,
			msg: `^netc: internal error: test panic on the worker of part [1-9][0-9]*; stack trace written to (.*netc-crash-.*\.txt)\n$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "worker panic" && kernels.Threads() < 2 {
				t.Skip("one thread: the pool has no workers")
			}
			if name, value, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(name, value)
			}
			code, _, stderr := runCapture(t, tc.args...)
			re := regexp.MustCompile(tc.msg)
			if code != tc.code || !re.MatchString(stderr) {
				t.Fatalf("netc %s: exit %d, stderr %q; want exit %d, stderr matching %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.msg)
			}
			if tc.code != 3 {
				return
			}
			file := re.FindStringSubmatch(stderr)[1]
			b, err := os.ReadFile(file)
			os.Remove(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"netc: internal error: test panic", "goroutine ", "status_test.go"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("the stack trace file lacks %q:\n%s", want, b)
				}
			}
			if tc.name == "worker panic" && !strings.Contains(string(b), "worker goroutine") {
				t.Errorf("the stack trace file lacks the worker's stack:\n%s", b)
			}
		})
	}
}

// TestCheckMemoryJSON: netc check --json gives the memory of a training
// step in bytes, and counts too large for an int64 saturate instead of
// wrapping negative.
func TestCheckMemoryJSON(t *testing.T) {
	wide := writeSpec(t, t.TempDir(), "wide", 10, 4096)
	for _, tc := range []struct {
		spec, batch string
		saturated   bool
	}{
		{"../../specs/resnet50.spec", "32", false},
		{wide, "9223372036854775807", true},
	} {
		code, out, stderr := runCapture(t, "check", "--json", "--batch", tc.batch, tc.spec)
		if code != 0 {
			t.Fatalf("netc check %s: exit %d: %s", tc.spec, code, stderr)
		}
		var sum struct {
			Params, MACs                          int64
			Activation, Backward, Train, MinTrain int64
		}
		var raw map[string]int64
		json.Unmarshal([]byte(out), &raw)
		sum.Params, sum.MACs = raw["params"], raw["macs"]
		sum.Activation, sum.Backward, sum.Train, sum.MinTrain = raw["activation_bytes"], raw["backward_bytes"], raw["train_bytes"], raw["min_train_bytes"]
		if sum.Params <= 0 || sum.MACs <= 0 || sum.Backward <= 0 || sum.Backward > sum.Activation || sum.MinTrain < sum.Backward || sum.Train < sum.MinTrain {
			t.Errorf("%s: %+v from %s", tc.spec, sum, out)
		}
		if got := sum.Train == math.MaxInt64; got != tc.saturated {
			t.Errorf("%s at batch %s: train bytes %d, saturated %v, want %v", tc.spec, tc.batch, sum.Train, got, tc.saturated)
		}
	}
}
