package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
)

// trainFlags parses args with the train command's flags and finishes the
// config, as the train command does.
func trainFlags(args ...string) (train.Config, error) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	c := train.Defaults(128)
	c.Attack = pgd.Paper()
	finish := TrainFlags(fs, &c)
	if _, err := Parse(fs, args); err != nil {
		return c, err
	}
	return c, finish()
}

// TestFloatFlagsValidated: every float flag of train (and eval's and
// attack's --eps and --step) refuses NaN, Inf, negative values and values
// beyond float32, and values outside its own range, as bad input naming
// the flag. --lr NaN used to train at the default rate, --lr 1e39 to
// train at Inf.
func TestFloatFlagsValidated(t *testing.T) {
	flags := []string{"lr", "warmup", "momentum", "wd", "label-smoothing", "clean-ratio", "clean-weight",
		"alp", "clean-start", "eps-warmup", "eps", "step", "decay"}
	for _, name := range flags {
		for _, v := range []string{"NaN", "Inf", "-Inf", "-1", "1e39", "1/0", "x"} {
			_, err := trainFlags("--"+name, v)
			if !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), name) {
				t.Errorf("--%s %s: %v, want bad input naming the flag", name, v, err)
			}
		}
	}
	for _, args := range [][]string{
		{"--momentum", "1"}, {"--label-smoothing", "1"}, {"--clean-ratio", "1.5"}, {"--clean-weight", "2"},
		{"--clean-start", "1.01"}, {"--eps-warmup", "2"}, {"--decay", "1,-2"}, {"--decay", "1,NaN"},
		// --eps 2 trained a run that eval then refused to attack with its
		// own eps; --lr 0 (and -0) trained at the default rate.
		{"--eps", "1.5"}, {"--eps", "2/1"}, {"--lr", "0"}, {"--lr", "-0"},
	} {
		if _, err := trainFlags(args...); !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want bad input naming the flag", args, err)
		}
	}
	c, err := trainFlags("--lr", "0.1", "--eps", "16/255", "--decay", "1, 2.5", "--momentum", "0", "--clean-ratio", "1")
	if err != nil || c.LR != 0.1 || c.Attack.Eps != 16.0/255 || len(c.DecayEpochs) != 2 || c.DecayEpochs[1] != 2.5 {
		t.Errorf("good flags: %+v, %v", c, err)
	}
	for _, cmd := range []func([]string) error{
		Commands{New: interpreted}.Eval,
		Commands{New: interpreted}.Attack,
	} {
		for _, name := range []string{"eps", "step"} {
			for _, v := range []string{"NaN", "-1", "1e39", map[string]string{"eps": "2", "step": "Inf"}[name]} {
				err := cmd([]string{"../../generated/mnistresnet/weights.ckpt", "--limit", "1", "--" + name, v})
				if !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), name) {
					t.Errorf("--%s %s: %v, want bad input naming the flag", name, v, err)
				}
			}
		}
	}
}

// TestNegativeTrainCounts: train's --test-limit and --checkpoint-every
// refuse negative values as bad input naming the flag (they meant "none"
// without a word).
func TestNegativeTrainCounts(t *testing.T) {
	for _, args := range [][]string{{"--test-limit", "-5"}, {"--checkpoint-every", "-1s"}} {
		err := Commands{New: interpreted}.Train(append([]string{"../../specs/mnist-resnet.spec", "--out", t.TempDir(), "--data", "imagefolder:/nonexistent"}, args...))
		if !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want bad input naming the flag", args, err)
		}
	}
}

// TestTrainErrorStatus: a run folder that cannot be made is a runtime
// failure (exit 1), not bad input; a folder another trainer holds is bad
// input naming its PID (exit 2).
func TestTrainErrorStatus(t *testing.T) {
	s := defaultSpec(t)
	if _, err := data.Load("mnist", "train"); err != nil {
		t.Skip(err)
	}
	c := train.Defaults(32)
	c.Data, c.Limit = "mnist", 64
	trainOut := func(out string) error {
		return Commands{New: interpreted}.Train([]string{"../../specs/mnist-resnet.spec", "--out", out, "--data", "mnist", "--limit", "64",
			"--batch", "32", "--attack-steps", "0", "--test-limit", "0"})
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"/dev/null/x", file} {
		err := trainOut(out)
		if err == nil || errors.As(err, new(BadInput)) {
			t.Errorf("--out %s: %v, want a runtime failure (exit 1)", out, err)
		}
	}

	dir := t.TempDir()
	m, err := interp.NewModel(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	holder := &train.Run{Dir: dir, Config: c, Model: m, Data: data.Synthetic(64, 1, 28, 28, 10, 1), Quiet: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	err = trainOut(dir)
	if !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("a held run folder: %v, want bad input naming PID %d", err, os.Getpid())
	}
}
