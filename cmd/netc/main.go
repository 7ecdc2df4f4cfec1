// Command netc is the front door of netc: it checks and formats specs,
// trains and evaluates models, and runs the demo.
//
// Usage:
//
//	netc demo                                   adversarially train the default spec on MNIST and evaluate it
//	netc check SPEC [--json] [--batch N]        validate; layers, parameters, multiply-adds, memory
//	netc fmt [-w] SPEC...                       print (or rewrite) specs in canonical form
//	netc compile SPEC [-o DIR] [--weights CKPT]  generate a spec's Go package and model binary
//	netc build SPEC [-o BIN]                    compile a spec and build its model binary
//	netc train SPEC --data D --out RUN [flags]  train (resumes RUN if it has a checkpoint)
//	netc finetune-norm RUN|CKPT --out RUN2      train only the norm layers of trained weights
//	netc eval RUN|CKPT --data D --pgd 10,100 [flags] [--json]
//	netc attack RUN|CKPT [--steps 10] [flags]   PGD on test images, one JSON line per image
//	netc predict RUN|CKPT IMAGE.png...          classify PNG images
//	netc stats RUN|CKPT [--block NAME] [--batches N [--adversarial]] [--json|--csv]
//	                                            BN running (and batch) statistics per channel
//	netc plot curve|ratio|depth|stats INPUT... -o FILE.png
//	                                            the paper's figures from eval and stats JSON
//
//	netc reproduce mnist|cifar [--row NAME]     the paper's experiments at small scale -> docs/REPRODUCTION.md
//	netc bench kernels [--json] [--batch 8,32]  FMA peak and conv kernel speed
//	netc bench model SPEC [--json]              model images/s: inference, training, attack steps
//
// Every command runs in this process: train, finetune-norm, eval,
// attack, predict, stats and bench model run the spec's program on the
// interpreter (runtime/interp), so netc needs no Go toolchain at run
// time (only compile and build do, and --data mnist to fetch MNIST). SIGINT, SIGTERM and SIGHUP stop a
// training run after it checkpoints where it stands (a second one quits
// at once), and an evaluation without a result. --interp, which chose
// the interpreter when these commands ran a compiled model binary, is
// accepted with a note and has no effect; `netc build` makes the model
// binary, whose commands are the same.
//
// Environment: NETC_CPUPROFILE=FILE writes a CPU profile of the command
// to FILE; NETC_ISA=avx512|avx2|generic picks the kernels (default: the
// fastest this CPU has; one it lacks is exit status 2).
//
// Exit status (a model binary's too):
//
//	0  ok
//	1  a runtime or environment failure (a file that cannot be written, a
//	   training run that diverged, one stopped by a signal: its checkpoint
//	   is kept, and the same command resumes it)
//	2  bad input: a spec, flag, data set, checkpoint or NETC_ISA value,
//	   with a message naming the file and place
//	3  an internal error (a panic): "netc: internal error: VALUE; stack
//	   trace written to FILE", a file in the temporary folder named with
//	   the pid and the time
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// The command line shared with the model binaries.
var (
	bad   = cli.Bad
	badf  = cli.Badf
	parse = cli.Parse
	ints  = cli.Ints
)

// interpreted builds models on the interpreter.
func interpreted(s *spec.Spec, seed uint64) (nn.Model, error) { return interp.NewModel(s, seed) }

// models are the commands netc shares with the model binaries, run here
// on the interpreter, which can also name the first layer whose output
// is not finite.
var models = cli.Commands{New: interpreted, Locate: diag.FirstNonFinite}

type command struct {
	name, args, help string
	run              func(args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"demo", "[flags]", "adversarially train the default spec on real MNIST and evaluate it", runDemo},
		{"check", "SPEC [--json] [--batch N]", "validate a spec; print layers, parameters, multiply-adds, memory", runCheck},
		{"fmt", "[-w] SPEC...", "print specs in canonical form (-w: rewrite the files)", runFmt},
		{"compile", "SPEC [-o DIR] [--weights CKPT]", "generate the Go package of a spec (model, model binary, embedded weights)", runCompile},
		{"build", "SPEC [-o BIN] [--weights CKPT]", "compile a spec and build its model binary", runBuild},
		{"train", "SPEC --data D --out RUN [flags]", "train a model (resumes RUN if it has a checkpoint)", inProcess(models.Train)},
		{"finetune-norm", "RUN|CKPT --out RUN2 [flags]", "train only the norm layers (affine, running statistics) of trained weights", inProcess(models.FinetuneNorm)},
		{"eval", "RUN|CKPT [--data D] [--pgd 10,100] [flags]", "clean and PGD accuracy of a trained model", inProcess(models.Eval)},
		{"attack", "RUN|CKPT [--data D] [--steps 10] [flags]", "attack test images with PGD; one JSON line per image on stdout", inProcess(models.Attack)},
		{"predict", "RUN|CKPT IMAGE.png...", "classify PNG images with a trained model", inProcess(models.Predict)},
		{"stats", "RUN|CKPT [--block NAME] [--batches N]", "per-channel BN running statistics (per MBN branch) and batch statistics; --json, --csv", runStats},
		{"plot", "KIND INPUT... -o FILE.png", "draw a figure (curve, ratio, depth, stats) from eval or stats JSON", runPlot},
		{"reproduce", "mnist|cifar [--row NAME,...] [--out DIR] [--list]", "run the paper's experiments at small scale and write docs/REPRODUCTION.md", runReproduce},
		{"bench", "kernels [--json] [--net ...] [--batch 8,32] [--threads 1,2]", "this CPU's FMA peak and the speed of the conv kernels", runBench},
		{"bench", "model SPEC [--batch 128] [--threads 1] [--json]", "images/s of inference, training, attack and PGD-10 training steps", runBench},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "netc: a compiler and runtime for adversarial training of ResNets\n\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  netc %s %s\n        %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\nEvery command runs in this process, the models on the interpreter: netc needs\n"+
		"no Go toolchain but to compile and build. Ctrl-C (or SIGTERM) stops training\n"+
		"after a checkpoint; run the same command again to resume. --interp (the\n"+
		"default now) is accepted and does nothing. 'netc build' makes a spec's model\n"+
		"binary, which takes the same commands.\n\n"+
		"Environment: NETC_CPUPROFILE=FILE writes a CPU profile of the command;\n"+
		"NETC_ISA=avx512|avx2|generic picks the kernels (default: the fastest).\n\n"+
		"Run 'netc COMMAND -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the command line args and returns the exit status; a panic
// becomes an internal error, status 3.
func run(args []string) (status int) {
	defer func() {
		if v := recover(); v != nil {
			status = cli.Internal("netc", v)
		}
	}()
	if path := os.Getenv("NETC_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "netc: NETC_CPUPROFILE:", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if err := cli.PreferISA(); err != nil {
		return cli.Status("netc", err)
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		return cli.Status("netc", c.run(args[1:]))
	}
	fmt.Fprintf(os.Stderr, "netc: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}

// inProcess is a command that netc shares with the model binaries, run
// here: it takes --interp out of the arguments (see interpFlag), with a
// note that it has no effect, and shows it in the command's help.
func inProcess(run func(args []string) error) func(args []string) error {
	return func(args []string) error {
		given, rest, err := interpFlag(args)
		if err != nil {
			return err
		}
		if given {
			fmt.Fprintln(os.Stderr, "netc: --interp has no effect: every command runs in process, on the interpreter (it will go away; 'netc build' makes a model binary)")
		}
		err = run(rest)
		if errors.Is(err, flag.ErrHelp) {
			printInterpFlag(os.Stderr)
		}
		return err
	}
}

// interpFlag takes the deprecated flag --interp (also -interp,
// --interp=BOOL) out of args, up to a "--", and reports whether it was
// given.
func interpFlag(args []string) (given bool, rest []string, err error) {
	for i, a := range args {
		if a == "--" {
			return given, append(rest, args[i:]...), nil
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name != "interp" || !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		given = true
		if hasValue {
			if _, err := strconv.ParseBool(value); err != nil {
				return false, nil, badf("%s: invalid boolean value %q", a, value)
			}
		}
	}
	return given, rest, nil
}

// printInterpFlag writes --interp's line of help, as the flag package
// prints flags.
func printInterpFlag(w io.Writer) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.Bool("interp", false, "deprecated, no effect: netc runs every command in process, on the interpreter")
	fs.SetOutput(w)
	fs.PrintDefaults()
}
