package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// signalling is a model that sends its own process SIGINT at its n-th
// forward pass: Ctrl-C in the middle of an evaluation.
type signalling struct {
	nn.Model
	n int
}

func (s *signalling) Forward(x *nn.Tensor, m nn.Mode) *nn.Tensor {
	if s.n--; s.n == 0 {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}
	return s.Model.Forward(x, m)
}

// tinyFolder writes an ImageFolder tree of 8x8 PNGs, classes a and b,
// two images each in train/ and test/, and returns its data source.
func tinyFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewNRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{"train", "test"} {
		for _, class := range []string{"a", "b"} {
			d := filepath.Join(dir, split, class)
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
	return "imagefolder:" + dir
}

// Ctrl-C during eval stops it with a message and a runtime failure (exit
// status 1), not a silent death by the signal, and prints no result.
func TestEvalInterrupted(t *testing.T) {
	src := tinyFolder(t)
	s, err := spec.Parse("tiny.spec", []byte("model tiny\ninput 3 8 8\nclasses 2\nstem cifar\nblock basic\nstages 1 1 1\nwidth 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.safetensors")
	if err := train.SaveCheckpoint(path, m, nil, train.Meta{Config: train.Config{Data: src}}); err != nil {
		t.Fatal(err)
	}
	f := func(s *spec.Spec, seed uint64) (nn.Model, error) {
		m, err := interp.NewModel(s, seed)
		return &signalling{Model: m, n: 3}, err
	}
	out, err := stdout(t, func() error { return Commands{New: f}.Eval([]string{path, "--pgd", "1000000", "--eps", "0.1"}) })
	var ie *eval.InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) || errors.As(err, new(BadInput)) {
		t.Fatalf("interrupted eval: %v, want an *eval.InterruptedError and a runtime failure", err)
	}
	if out != "" {
		t.Errorf("an interrupted eval printed a result:\n%s", out)
	}
}

// TestInterruptibleSecondSignalQuits: the first SIGINT cancels the
// context, saying so on stderr, with a cause that names the signal; by
// then the default action is back, so a second SIGINT ends the process.
// It runs in a child process (this test binary again): the second signal
// kills it.
func TestInterruptibleSecondSignalQuits(t *testing.T) {
	if os.Getenv("NETC_TEST_INTERRUPTIBLE") == "child" {
		ctx, stop := Interruptible("child", "testing")
		defer stop()
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-ctx.Done()
		fmt.Println("cause:", context.Cause(ctx))
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(10 * time.Second)
		fmt.Println("survived the second signal")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptibleSecondSignalQuits$")
	cmd.Env = append(os.Environ(), "NETC_TEST_INTERRUPTIBLE=child")
	out, err := cmd.CombinedOutput()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("the child ended with %v, want death by SIGINT", err)
	}
	for _, want := range []string{"child: interrupted: testing (again: quit at once)", "cause: interrupt signal received"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the child's output lacks %q:\n%s", want, out)
		}
	}
}
