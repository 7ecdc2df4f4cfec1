package interp

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/netc/netc/runtime/ckpt"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// python is Debian's interpreter, which sees the python3-torch package.
const python = "/usr/bin/python3"

// TestMatchesPyTorch trains the same ResNets from the same initial weights
// on the same batches in the interpreter and in PyTorch (testdata/
// torch_resnet.py) and compares every step's loss and the final logits.
// It needs PyTorch: `make torch` installs it.
func TestMatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-check with PyTorch skipped in -short mode")
	}
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skip("PyTorch is not installed (make torch)")
	}
	for _, src := range []string{
		"model a\ninput 3 12 10 mean=0.4,0.5,0.6 std=0.2,0.25,0.3\nclasses 5\nstem cifar\nblock basic\nstages 1 2 1\nwidth 8\n",
		"model b\ninput 3 40 36\nclasses 7\nstem imagenet\nblock bottleneck\nstages 1 1 2 1\nwidth 4\n",
		"model c\ninput 1 12 12\nclasses 4\nstem cifar\nblock basic\nstages 1 1 1\nwidth 8\nnorm gn groups=4\n",
		// Widths of 16 channels run on the blocked kernels.
		"model d\ninput 3 16 14 mean=0.4,0.5,0.6 std=0.2,0.25,0.3\nclasses 5\nstem cifar\nblock basic\nstages 1 2 1\nwidth 16\n",
		"model e\ninput 3 20 18\nclasses 7\nstem cifar\nblock bottleneck\nstages 1 1 1\nwidth 16\n",
		"model f\ninput 1 12 12\nclasses 4\nstem cifar\nblock basic\nstages 1 1 1\nwidth 16\nnorm gn groups=8\n",
	} {
		s, err := spec.Parse("t.spec", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(s.Model, func(t *testing.T) {
			dir := t.TempDir()
			const steps, batch, lr = 6, 8, 0.1
			cfg := map[string]any{
				"spec": s.String(), "input": s.Input, "classes": s.Classes, "stem": s.Stem.String(),
				"block": s.Block.String(), "stages": s.Stages, "width": s.Width, "norm": s.Norm.Kind.String(),
				"groups": s.Norm.Groups, "mean": s.Mean, "std": s.Std,
				"steps": steps, "batch": batch, "lr": lr, "seed": 1,
			}
			b, _ := json.Marshal(cfg)
			cfgPath, ckPath := filepath.Join(dir, "config.json"), filepath.Join(dir, "init.safetensors")
			if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(python, "testdata/torch_resnet.py", cfgPath, ckPath).Output()
			if err != nil {
				t.Fatalf("torch_resnet.py: %v\n%s", err, out)
			}
			var want struct {
				Losses []float64
				Logits []float64
			}
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("torch_resnet.py printed %q: %v", out, err)
			}

			gemm := os.Getenv("NETC_INTERP") == "gemm"        // the GEMM path, to compare
			m, err := NewModelWith(s, 7, Options{GEMM: gemm}) // a different init, overwritten from PyTorch's
			if err != nil {
				t.Fatal(err)
			}
			isa, _ := kernels.Select()
			if fast := s.Width%16 == 0 && isa != kernels.Generic && !gemm; (m.fast != nil) != fast {
				t.Fatalf("blocked kernels: %v, want %v", m.fast != nil, fast)
			}
			c, err := train.OpenCheckpoint(ckPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Restore(m, nil); err != nil {
				t.Fatal(err)
			}
			ts, err := ckpt.Load(ckPath+".data", nil)
			if err != nil {
				t.Fatal(err)
			}
			var xs, ys []float32
			for _, tn := range ts {
				switch tn.Name {
				case "data.x":
					xs = tn.Data
				case "data.y":
					ys = tn.Data
				}
			}
			size := s.Input[0] * s.Input[1] * s.Input[2]
			opt := train.NewSGD(m.Params(), 0.9, 1e-4, true)
			dl := nn.NewTensor(batch, s.Classes)
			labels := make([]int, batch)
			for step := range steps {
				x := &nn.Tensor{Shape: []int{batch, s.Input[0], s.Input[1], s.Input[2]}, Data: xs[step*batch*size : (step+1)*batch*size]}
				for i := range labels {
					labels[i] = int(ys[step*batch+i])
				}
				logits := m.Forward(x, nn.Mode{Norm: nn.BatchStats, UpdateStats: true})
				loss := ref.SoftmaxCrossEntropy(batch, s.Classes, logits.Data, labels, 0, dl.Data)
				if d := math.Abs(float64(loss) - want.Losses[step]); d > 1e-4*math.Max(1, want.Losses[step]) {
					t.Errorf("step %d: loss %.7f, PyTorch %.7f", step, loss, want.Losses[step])
				}
				m.Backward(dl, nn.AllGrads)
				opt.Step(m.Params(), lr, nil)
			}
			x := &nn.Tensor{Shape: []int{batch, s.Input[0], s.Input[1], s.Input[2]}, Data: xs[:batch*size]}
			for i, v := range m.Forward(x, nn.Mode{}).Data {
				if d := math.Abs(float64(v) - want.Logits[i]); d > 1e-4*math.Max(1, math.Abs(want.Logits[i])) {
					t.Fatalf("inference logit %d: %.7f, PyTorch %.7f", i, v, want.Logits[i])
				}
			}
		})
	}
}
