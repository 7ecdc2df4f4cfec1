package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// Attack is the attack command: PGD against a checkpoint's weights on
// test images, one JSON line per image on stdout (eval.ImageAttack). It
// attacks as training does: each batch starts at the clean images with
// probability --clean-start (pgd.Paper's 0.2), else at a random point of
// the ε-cube; eval always starts at random.
func (cm Commands) Attack(args []string) error {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	src := fs.String("data", "", "data set (default: the one the run trained on)")
	c := pgd.Paper()
	finish := AttackFlags(fs, &c, nil)
	fs.IntVar(&c.Steps, "steps", 10, "PGD iterations")
	fs.Float64Var(&c.CleanStart, "clean-start", c.CleanStart, "probability per batch that PGD starts at the clean images, as in training (eval always starts at random)")
	limit := fs.Int("limit", 100, "attack the first N test images")
	batch := fs.Int("batch", 100, "images per batch")
	seed := fs.Uint64("seed", 1, "seed of the attack's random draws")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: attack RUN|CKPT [flags]

PGD against test images, one JSON line per image on stdout: label,
clean and adversarial class, robust (right clean and at every iterate),
confidence, the largest pixel change. The attack is the training one:
each batch starts at the clean images with probability --clean-start
(0.2, the paper's), else at a random point of the eps-cube; eval always
starts at random. The summary on stderr counts an image as robust only
if it is classified right clean and at every iterate.

flags:
`)
		fs.PrintDefaults()
	}
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return Badf("attack: want one RUN folder or checkpoint file, got %d arguments", len(pos))
	}
	if err := finish(); err != nil {
		return err
	}
	if *batch < 1 || *limit < 1 || c.Steps < 1 {
		return Badf("attack: --batch, --limit and --steps must be >= 1")
	}
	if !(c.CleanStart >= 0 && c.CleanStart <= 1) {
		return Badf("attack: --clean-start %g: want a probability in [0, 1]", c.CleanStart)
	}
	m, _, test, err := cm.loadForTest(pos[0], src, 0)
	if err != nil {
		return err
	}
	if c.Loss == pgd.Targeted && m.Spec().Classes < 2 {
		return Badf("attack: a targeted attack needs 2 classes or more, %s has %d", m.Spec().File, m.Spec().Classes)
	}
	c.Branch = nn.Adv
	a := pgd.New(c, rand.New(rand.NewPCG(*seed, 1)))
	enc := json.NewEncoder(os.Stdout)
	// Images classified right clean, at every iterate, and at the last.
	n, cleanRight, robust, lastRight := 0, 0, 0, 0
	err = eval.AttackImages(m, test, a, *limit, *batch, cm.Locate, func(r eval.ImageAttack) error {
		n++
		cleanRight += b2i(r.Clean == r.Label)
		robust += b2i(r.Robust)
		lastRight += b2i(r.Adversarial == r.Label)
		return enc.Encode(r)
	})
	if err != nil {
		return err
	}
	pct := func(v int) float64 { return 100 * float64(v) / float64(n) }
	fmt.Fprintf(os.Stderr, "%s PGD-%d, eps %.4g, clean start with p = %.2g: %d of %d images classified right clean and at every iterate (%.2f%%); clean %.2f%%, at the last iterate alone %.2f%%\n",
		c.Loss, c.Steps, c.Eps, c.CleanStart, robust, n, pct(robust), pct(cleanRight), pct(lastRight))
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// benchOptions are the settings of the bench command.
type benchOptions struct {
	batch, threads int
	minTime        time.Duration
	asJSON         bool
}

// benchFlags is the flag set of the bench command.
func benchFlags() (*flag.FlagSet, *benchOptions) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &benchOptions{}
	fs.IntVar(&o.batch, "batch", 128, "images per batch")
	fs.IntVar(&o.threads, "threads", 1, "threads")
	fs.DurationVar(&o.minTime, "time", 2*time.Second, "time each workload at least this long (and at least twice)")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object on stdout")
	return fs, o
}

// BenchUsage writes the help of the bench command, invoked as synopsis
// (such as "netc bench model SPEC"), to w.
func BenchUsage(w io.Writer, synopsis string) {
	fmt.Fprintf(w, `usage: %s [flags]

Times a model on synthetic input, in images/s: inference (a forward pass
with running statistics), a training step (forward, softmax cross-entropy,
backward, SGD update), a PGD attack step (forward and input gradient) and a
PGD-10 adversarial training step. Progress and figures go to stderr; --json
prints one object on stdout.

Flags:
`, synopsis)
	fs, _ := benchFlags()
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// Bench is the bench command: images/s of inference, a training step, a
// PGD attack step and a PGD-10 adversarial training step (train.Bench)
// of a spec's model (the positional SPEC file, or the spec compiled in).
func (cm Commands) Bench(args []string) error {
	fs, o := benchFlags()
	s := cm.Spec
	fs.Usage = func() {
		synopsis := filepath.Base(os.Args[0]) + " bench"
		if s == nil {
			synopsis = "netc bench model SPEC"
		}
		BenchUsage(fs.Output(), synopsis)
	}
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if pos, err = cm.compiledSpecArg("bench", pos); err != nil {
		return err
	}
	if s == nil {
		if len(pos) != 1 {
			return Badf("bench: want one SPEC file, got %d arguments", len(pos))
		}
		if s, err = spec.ParseFile(pos[0]); err != nil {
			return Bad(err)
		}
	} else if len(pos) != 0 {
		return Badf("bench: unexpected argument %q", pos[0])
	}
	if o.batch < 1 || o.threads < 1 {
		return Badf("bench: --batch and --threads must be >= 1")
	}
	if err := train.CheckMemory(s, o.batch, 0); err != nil {
		return MarkInput(err)
	}
	runtime.GOMAXPROCS(o.threads)
	kernels.SetThreads(o.threads)
	m, err := cm.New(s, 1)
	if err != nil {
		return Bad(err)
	}
	isa, err := kernels.Select()
	if err != nil {
		return err
	}
	r := train.Bench(m, o.batch, o.minTime, func(workload string, perSecond float64, iters int) {
		fmt.Fprintf(os.Stderr, "%s: %-22s %9.1f img/s (%d iterations)\n", s.Model, workload, perSecond, iters)
	})
	r.Threads, r.ISA = o.threads, string(isa)
	if o.asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	return nil
}

// Predict is the predict command: the class of each PNG image under a
// checkpoint's weights, or, if the weights are compiled in (cm.Trained)
// and the first argument is an image, under those.
func (cm Commands) Predict(args []string) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	var m nn.Model
	if len(pos) > 0 && cm.Trained != nil && strings.HasSuffix(strings.ToLower(pos[0]), ".png") {
		if m, err = cm.Trained(); err != nil {
			return err
		}
	} else {
		if len(pos) < 2 {
			return Badf("predict: want a RUN folder or checkpoint and one or more PNG images")
		}
		if m, _, _, err = train.LoadModel(cm.New, pos[0], 0); err != nil {
			return MarkInput(err)
		}
		pos = pos[1:]
	}
	for _, path := range pos {
		img, err := data.ReadImage(path, m.Spec().Input)
		if err != nil {
			return Bad(err)
		}
		class, probs := eval.Classify(m, img)
		fmt.Printf("%s: class %d (p = %.4f)\n", path, class, probs[class])
	}
	return nil
}
