// Command netc is the front door of netc: it checks and formats specs,
// trains and evaluates models, and runs the demo.
//
// Usage:
//
//	netc demo                                   adversarially train the default spec on MNIST and evaluate it
//	netc check SPEC [--json] [--batch N]        validate; layers, parameters, multiply-adds, memory
//	netc fmt [-w] SPEC...                       print (or rewrite) specs in canonical form
//	netc train SPEC --data D --out RUN [flags]  train (resumes RUN if it has a checkpoint)
//	netc eval RUN|CKPT --data D --pgd 10,100 [flags] [--json]
//	netc bench kernels [--json] [--batch 8,32]  FMA peak and conv kernel speed
//
// NETC_CPUPROFILE=FILE writes a CPU profile of the command to FILE.
//
// Exit status: 0 ok, 1 runtime failure, 2 bad input (spec, flags, data,
// checkpoint), with a message naming the file and place.
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
)

// badInput marks an error caused by what the user gave: exit status 2.
type badInput struct{ err error }

func (e badInput) Error() string { return e.err.Error() }
func (e badInput) Unwrap() error { return e.err }

func bad(err error) error {
	if err == nil {
		return nil
	}
	return badInput{err}
}

func badf(format string, args ...any) error { return badInput{fmt.Errorf(format, args...)} }

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
		{"train", "SPEC --data D --out RUN [flags]", "train a model (resumes RUN if it has a checkpoint)", runTrain},
		{"eval", "RUN|CKPT --data D [--pgd 10,100] [flags]", "clean and PGD accuracy of a trained model", runEval},
		{"bench", "kernels [--json] [--net ...] [--batch 8,32] [--threads 1,2]", "this CPU's FMA peak and the speed of the conv kernels", runBench},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "netc: a compiler and runtime for adversarial training of ResNets\n\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  netc %-6s %-40s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\nRun 'netc COMMAND -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if path := os.Getenv("NETC_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "netc: NETC_CPUPROFILE:", err)
			return 2
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
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(badInput)):
			fmt.Fprintln(os.Stderr, "netc:", err)
			return 2
		default:
			fmt.Fprintln(os.Stderr, "netc:", err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "netc: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}

// parse parses flags that may come before and after positional arguments
// and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.Usage()
				return nil, err
			}
			return nil, badf("%s: %v", fs.Name(), err)
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

// ints parses a comma-separated list such as "10,100,2000".
func ints(s string) ([]int, error) {
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
