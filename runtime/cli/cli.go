// Package cli is the command line that netc and every model binary it
// compiles share: train, finetune-norm, eval, attack, bench and predict,
// with the same flags, errors and exit statuses (flags, their checks and
// printing only; the work is the library's: train, eval, data, pgd):
//
//	0  ok
//	1  a runtime or environment failure (a file that cannot be written, a
//	   training run that diverged)
//	2  bad input: a spec, flag, data set or checkpoint, with a message
//	   naming the file and place
//	3  an internal error (a panic): a short message names the file in
//	   os.TempDir() that holds the stack trace
package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// BadInput marks an error caused by what the user gave: exit status 2.
type BadInput struct{ Err error }

func (e BadInput) Error() string { return e.Err.Error() }
func (e BadInput) Unwrap() error { return e.Err }

// Bad marks err, if not nil, as bad input.
func Bad(err error) error {
	if err == nil {
		return nil
	}
	return BadInput{err}
}

// Badf is a bad-input error from a format.
func Badf(format string, args ...any) error { return BadInput{fmt.Errorf(format, args...)} }

// Status prints err (if any) after prog and returns the exit status.
func Status(prog string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(BadInput)):
		fmt.Fprintln(os.Stderr, prog+":", err)
		return 2
	}
	fmt.Fprintln(os.Stderr, prog+":", err)
	return 1
}

// Internal reports an internal error, the value v of a panic recovered
// at a command's boundary, and returns exit status 3: it writes the stack
// trace (the worker's too, for a panic raised again from a worker
// goroutine as a *ref.Panic) to a new file in os.TempDir(), named with the
// pid and the time, and prints "PROG: internal error: V; stack trace
// written to FILE". Call it from the deferred function that recovers, so
// that the stack still holds the panic.
func Internal(prog string, v any) int {
	stack := debug.Stack()
	var worker []byte
	if wp, ok := v.(*ref.Panic); ok {
		v, worker = wp.Value, wp.Stack
	}
	msg := fmt.Sprint(v)
	if first, _, cut := strings.Cut(msg, "\n"); cut || len(first) > 200 {
		msg = first[:min(len(first), 200)] + " ..."
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: internal error: %v\n\ncommand: %q\n%s %s/%s\n\n%s", prog, v, os.Args, runtime.Version(), runtime.GOOS, runtime.GOARCH, stack)
	if worker != nil {
		fmt.Fprintf(&b, "\nThe panic was raised on a worker goroutine, whose stack was:\n\n%s", worker)
	}
	f, err := os.CreateTemp("", fmt.Sprintf("%s-crash-%d-%s-*.txt", prog, os.Getpid(), time.Now().Format("20060102-150405")))
	if err == nil {
		_, err = f.Write(b.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: internal error: %s; could not write the stack trace (%v), so here it is:\n%s", prog, msg, err, b.Bytes())
		return 3
	}
	fmt.Fprintf(os.Stderr, "%s: internal error: %s; stack trace written to %s\n", prog, msg, f.Name())
	return 3
}

// Parse parses flags that may come before and after positional
// arguments and returns the positional ones.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.Usage()
				return nil, err
			}
			return nil, Badf("%s: %w", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// Ints parses a comma-separated list such as "10,100,2000".
func Ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("bad number %q in list %q", f, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// Commands are the commands that netc and every model binary share:
// train, finetune-norm, eval, attack, bench and predict, over one source
// of models.
type Commands struct {
	// New builds the model of a spec: netc's interpreter, or a model
	// binary's compiled model (train.Compiled).
	New train.Factory
	// Spec is the spec compiled in (a model binary's; nil for netc):
	// train and bench then take no SPEC file, or one of the same network,
	// so that netc's command lines work as they are.
	Spec *spec.Spec
	// Trained, if not nil, returns the model with the weights compiled
	// in: predict then needs no checkpoint.
	Trained func() (nn.Model, error)
	// Locate, if not nil, names the first layer whose output is not
	// finite when an evaluation or an attack meets a NaN or an infinity
	// (the interpreter's diag.FirstNonFinite; a compiled model has no
	// layer outputs to look at).
	Locate eval.Locator
}

// compiledSpecArg lets a model binary's command (name) that takes a
// SPEC file in netc take it too: if cm.Spec (the spec compiled in) is not
// nil and the first of the positional arguments pos is a spec file of
// the same network, it is dropped; one of another network is bad input.
// Other arguments are returned as they are.
func (cm Commands) compiledSpecArg(name string, pos []string) ([]string, error) {
	if cm.Spec == nil || len(pos) == 0 {
		return pos, nil
	}
	s, err := spec.ParseFile(pos[0])
	if err != nil {
		return nil, Bad(err)
	}
	if !spec.SameNetwork(s, cm.Spec) {
		return nil, Badf("%s: %s is not the spec this model was compiled from (%s)", name, pos[0], cm.Spec.File)
	}
	return pos[1:], nil
}

// Main runs a model binary's command line (args without the program
// name) for the model that newModel builds, and returns the exit status.
// A package with embedded weights passes its Load as trained: predict
// then needs no checkpoint. NETC_ISA (avx512, avx2 or generic) picks the
// kernels, as in netc.
func Main[M nn.Model](newModel func(seed uint64) (M, error), args []string, trained ...func() (M, error)) (status int) {
	prog := "model"
	defer func() {
		if v := recover(); v != nil {
			status = Internal(prog, v)
		}
	}()
	if err := PreferISA(); err != nil {
		return Status(prog, err)
	}
	m, err := newModel(0)
	if err != nil {
		return Status(prog, err)
	}
	prog = m.Spec().Model
	cm := Commands{New: train.Compiled(newModel), Spec: m.Spec()}
	if len(trained) > 0 {
		cm.Trained = func() (nn.Model, error) { return trained[0]() }
	}
	commands := []struct {
		name, args, help string
		run              func([]string) error
	}{
		{"train", "--data D --out RUN [flags]", "train (resumes RUN if it has a checkpoint)", cm.Train},
		{"finetune-norm", "RUN|CKPT --out RUN2 [flags]", "train only the norm layers of trained weights", cm.FinetuneNorm},
		{"eval", "RUN|CKPT [--data D] [--pgd 10,100] [flags]", "clean and PGD accuracy of trained weights", cm.Eval},
		{"attack", "RUN|CKPT [--data D] [--steps 10] [flags]", "attack test images; one JSON line per image", cm.Attack},
		{"bench", "[--batch 128] [--threads 1] [--time 2s] [--json]", "images/s of inference, training, attack and PGD-10 training steps", cm.Bench},
		{"predict", "[RUN|CKPT] IMAGE...", "classify PNG images", cm.Predict},
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(os.Stderr, "%s: the model binary of %s (compiled by netc)\n\nUsage:\n", prog, m.Spec().File)
		for _, c := range commands {
			fmt.Fprintf(os.Stderr, "  %s %-8s %-45s %s\n", prog, c.name, c.args, c.help)
		}
		fmt.Fprintln(os.Stderr, "\nEnvironment: NETC_ISA=avx512|avx2|generic picks the kernels (default: the fastest).")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return Status(prog, c.run(args[1:]))
		}
	}
	return Status(prog, Badf("unknown command %q (commands: train, finetune-norm, eval, attack, bench, predict)", args[0]))
}

// PreferISA sets the kernels that NETC_ISA names (avx512, avx2 or
// generic; unset or empty: the fastest this CPU has) for the process:
// call it first, before any model is built. An ISA this CPU or build
// lacks is bad input naming the variable.
func PreferISA() error {
	if err := kernels.Prefer(kernels.ISA(os.Getenv("NETC_ISA"))); err != nil {
		return Badf("NETC_ISA: %w", err)
	}
	return nil
}
