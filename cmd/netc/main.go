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
// train, finetune-norm, eval, attack, predict and bench model run the
// spec's compiled model binary, built into the user's cache directory
// (netc/build) with the go command; --interp runs them in process on the
// interpreter instead.
//
//	netc reproduce mnist|cifar [--row NAME]     the paper's experiments at small scale -> docs/REPRODUCTION.md
//	netc bench kernels [--json] [--batch 8,32]  FMA peak and conv kernel speed
//	netc bench model SPEC [--json] [--interp]   model images/s: inference, training, attack steps
//
// NETC_CPUPROFILE=FILE writes a CPU profile of the command to FILE.
//
// Exit status (a model binary's too, which netc passes on):
//
//	0  ok
//	1  a runtime or environment failure (a file that cannot be written, a
//	   training run that diverged)
//	2  bad input: a spec, flag, data set or checkpoint, with a message
//	   naming the file and place
//	3  an internal error (a panic): "netc: internal error: VALUE; stack
//	   trace written to FILE", a file in the temporary folder named with
//	   the pid and the time
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/netc/netc/runtime/cli"
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
		{"train", "SPEC --data D --out RUN [flags]", "train a model (resumes RUN if it has a checkpoint)", func(a []string) error {
			return viaBinary("train", a, func(f cli.Factory, a []string) error { return cli.Train(f, nil, a) })
		}},
		{"finetune-norm", "RUN|CKPT --out RUN2 [flags]", "train only the norm layers (affine, running statistics) of trained weights", func(a []string) error { return viaBinary("finetune-norm", a, cli.FinetuneNorm) }},
		{"eval", "RUN|CKPT [--data D] [--pgd 10,100] [flags]", "clean and PGD accuracy of a trained model", func(a []string) error { return viaBinary("eval", a, cli.Eval) }},
		{"attack", "RUN|CKPT [--data D] [--steps 10] [flags]", "attack test images with PGD; one JSON line per image on stdout", func(a []string) error { return viaBinary("attack", a, cli.Attack) }},
		{"predict", "RUN|CKPT IMAGE.png...", "classify PNG images with a trained model", func(a []string) error {
			return viaBinary("predict", a, func(f cli.Factory, a []string) error { return cli.Predict(f, nil, a) })
		}},
		{"stats", "RUN|CKPT [--block NAME] [--batches N]", "per-channel BN running statistics (per MBN branch) and batch statistics; --json, --csv", runStats},
		{"plot", "KIND INPUT... -o FILE.png", "draw a figure (curve, ratio, depth, stats) from eval or stats JSON", runPlot},
		{"reproduce", "mnist|cifar [--row NAME,...] [--out DIR] [--list]", "run the paper's experiments at small scale and write docs/REPRODUCTION.md", runReproduce},
		{"bench", "kernels [--json] [--net ...] [--batch 8,32] [--threads 1,2]", "this CPU's FMA peak and the speed of the conv kernels", runBench},
		{"bench", "model SPEC [--batch 128] [--threads 1] [--json] [--interp]", "images/s of inference, training, attack and PGD-10 training steps", runBench},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "netc: a compiler and runtime for adversarial training of ResNets\n\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  netc %s %s\n        %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\ntrain, finetune-norm, eval, attack, predict and bench model run the spec's\n"+
		"compiled model binary (built into the user cache directory the first time:\n"+
		"minutes); --interp runs them in process on the interpreter instead.\n\n"+
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
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:])
		var st exitStatus
		if errors.As(err, &st) {
			return int(st)
		}
		return cli.Status("netc", err)
	}
	fmt.Fprintf(os.Stderr, "netc: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}
