package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// fraction is a float flag value such as 0.3 or 16/255: finite, >= 0
// and within the float32 range (pgd.ParseFraction); each setting's own
// range is train.Config.Validate's.
type fraction struct{ v *float64 }

func (f fraction) String() string {
	if f.v == nil { // the zero Value, which flag's help compares defaults with
		return "0"
	}
	return strconv.FormatFloat(*f.v, 'g', -1, 64)
}

func (f fraction) Set(s string) error {
	v, err := pgd.ParseFraction(s)
	if err != nil {
		return err
	}
	*f.v = v
	return nil
}

// AttackFlags registers the attacker's flags on fs, with defaults from c.
// If more is not nil, --attack takes a comma-separated list: the first
// loss goes to c, the others to more.
func AttackFlags(fs *flag.FlagSet, c *pgd.Config, more *[]pgd.Loss) func() error {
	fs.Var(fraction{&c.Eps}, "eps", "L-inf radius in pixels of [0,1] (`16/255` accepted)")
	fs.Var(fraction{&c.Step}, "step", "PGD step size; the effective step is max(step, eps/steps)")
	help := "attack loss: targeted, untargeted or cw"
	if more != nil {
		help = "attack losses, comma-separated: targeted, untargeted, cw (targeted,untargeted also checks for gradient masking)"
	}
	loss := fs.String("attack", c.Loss.String(), help)
	norm := fs.String("attack-norm", "inference", "BN statistics while attacking: inference (running) or train (batch)")
	return func() error {
		if c.Eps > 1 {
			return Badf("--eps %g: want 0 <= eps <= 1 (pixels lie in [0, 1])", c.Eps)
		}
		names := strings.Split(*loss, ",")
		if more == nil && len(names) > 1 {
			return Badf("--attack %q: one attack", *loss)
		}
		seen := map[pgd.Loss]bool{}
		for i, name := range names {
			l, err := pgd.ParseLoss(strings.TrimSpace(name))
			if err != nil {
				return Badf("--attack: %w", err)
			}
			if seen[l] {
				return Badf("--attack %q: %s twice", *loss, l)
			}
			seen[l] = true
			if i == 0 {
				c.Loss = l
			} else {
				*more = append(*more, l)
			}
		}
		switch *norm {
		case "inference":
			c.Norm = nn.RunningStats
		case "train":
			c.Norm = nn.BatchStats
		default:
			return Badf("--attack-norm %q: want inference or train", *norm)
		}
		return nil
	}
}

// TrainFlags registers the trainer's flags; the returned function
// finishes the config after parsing.
func TrainFlags(fs *flag.FlagSet, c *train.Config) func() error {
	fs.StringVar(&c.Data, "data", c.Data, "data set: mnist, mnist:DIR, cifar10:PATH or imagefolder:PATH")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "epochs")
	fs.IntVar(&c.Batch, "batch", c.Batch, "adversarial (or clean) images per step")
	fs.IntVar(&c.Limit, "limit", c.Limit, "train on the first N images only (0: all)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of every random draw")
	var lr float64
	fs.Var(fraction{&lr}, "lr", "peak learning rate (default 0.1*batch/256)")
	fs.Var(fraction{&c.Warmup}, "warmup", "epochs of linear learning-rate warmup")
	decay := fs.String("decay", "", "epochs at which the learning rate drops x0.1, e.g. 35,70,95")
	fs.Var(fraction{&c.Momentum}, "momentum", "SGD momentum (Nesterov), 0 <= momentum < 1")
	fs.Var(fraction{&c.WeightDecay}, "wd", "weight decay on conv and linear weights")
	fs.Var(fraction{&c.Smoothing}, "label-smoothing", "label smoothing, 0 <= label-smoothing < 1")
	fs.IntVar(&c.Attack.Steps, "attack-steps", c.Attack.Steps, "PGD iterations per training batch; 0 trains on clean images only")
	fs.Var(fraction{&c.CleanRatio}, "clean-ratio", "share of clean counterparts added to the adversarial images (100% adv + X clean), 0..1")
	fs.Var(fraction{&c.CleanWeight}, "clean-weight", "a in a*J(clean) + (1-a)*J(adv), 0..1")
	fs.Var(fraction{&c.ALP}, "alp", "adversarial logit pairing weight: + L * mean squared distance of clean and adversarial logits (needs --clean-ratio > 0)")
	fs.Var(fraction{&c.Attack.CleanStart}, "clean-start", "probability (per batch) that PGD starts at the clean image, 0..1")
	fs.IntVar(&c.RunningStatsEpochs, "running-stats-epochs", c.RunningStatsEpochs, "normalize with the frozen running statistics in the last K epochs")
	fs.Var(fraction{&c.EpsWarmup}, "eps-warmup", "epochs over which the attack's eps (and step) ramp up from 0")
	fs.StringVar(&c.Init, "init", c.Init, "start from the weights of this checkpoint (or RUN folder)")
	finishAttack := AttackFlags(fs, &c.Attack, nil)
	return func() error {
		if c.Init != "" {
			c.Init = train.CheckpointPath(c.Init)
		}
		if err := finishAttack(); err != nil {
			return err
		}
		c.LR = 0.1 * float64(c.Batch) / 256
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "lr" { // even 0, which Validate refuses
				c.LR = lr
			}
		})
		var err error
		if c.DecayEpochs, err = parseDecay(*decay); err != nil {
			return Badf("--decay: %w", err)
		}
		c.Adversarial = c.Attack.Steps > 0
		return Bad(c.Validate())
	}
}

// parseDecay reads the --decay list: comma-separated epochs (fractions
// such as 0.75 too), none if s is empty.
func parseDecay(s string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	var epochs []float64
	for _, f := range strings.Split(s, ",") {
		v, err := pgd.ParseFraction(f)
		if err != nil {
			return nil, fmt.Errorf("bad epoch %q in %q: %w", f, s, err)
		}
		epochs = append(epochs, v)
	}
	return epochs, nil
}

// Train is the train command: it trains a model of a spec (the
// positional SPEC file, or the spec compiled in).
func (cm Commands) Train(args []string) error { return cm.train(args, false) }

// FinetuneNorm is the finetune-norm command: it trains only the norm
// layers (affine parameters and running statistics) of a checkpoint's
// model, on clean images unless --attack-steps is set.
func (cm Commands) FinetuneNorm(args []string) error { return cm.train(args, true) }

// train is train, or with finetune, finetune-norm, whose positional
// argument is a run or checkpoint rather than a spec.
func (cm Commands) train(args []string, finetune bool) error {
	name := "train"
	if finetune {
		name = "finetune-norm"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c := train.Defaults(128)
	c.Data = "mnist"
	c.Attack = pgd.Paper()
	if finetune {
		c.Attack.Steps, c.Data = 0, ""
	}
	finish := TrainFlags(fs, &c)
	memory := MemoryFlag(fs)
	out := fs.String("out", "", "run folder: config.json, metrics.jsonl, checkpoints/")
	every := fs.Duration("checkpoint-every", train.DefaultCheckpointEvery, "also checkpoint within an epoch this often (0: at epoch ends only)")
	testLimit := fs.Int("test-limit", 1000, "test images for the clean accuracy after each epoch (0: none)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	var s *spec.Spec // the spec to train; a checkpoint's for finetune-norm
	want, what := 1, "RUN folder or checkpoint"
	if !finetune {
		if pos, err = cm.compiledSpecArg(name, pos); err != nil {
			return err
		}
		s, want, what = cm.Spec, 1, "SPEC file"
		if s != nil {
			want = 0
		}
	}
	if len(pos) != want {
		if want == 1 {
			return Badf("%s: want one %s, got %d arguments", name, what, len(pos))
		}
		return Badf("%s: unexpected argument %q (the spec is compiled in)", name, pos[0])
	}
	if *out == "" {
		return Badf("%s: --out RUN is required", name)
	}
	if *testLimit < 0 {
		return Badf("%s: --test-limit %d: want >= 0 (0: no test accuracy)", name, *testLimit)
	}
	if *every < 0 {
		return Badf("%s: --checkpoint-every %v: want >= 0 (0: at epoch ends only)", name, *every)
	}
	if finetune {
		// LoadModel also refuses weights that are not finite.
		m, meta, path, err := train.LoadModel(cm.New, pos[0], *memory)
		if err != nil {
			return MarkInput(err)
		}
		s = m.Spec()
		c.Init, c.NormOnly = path, true
		if c.Data == "" {
			c.Data = meta.Config.Data
		}
	}
	if err := finish(); err != nil {
		return err
	}
	if s == nil {
		if s, err = spec.ParseFile(pos[0]); err != nil {
			return Bad(err)
		}
	}
	ctx, stop := Interruptible(name, "checkpointing where the run stands")
	defer stop()
	_, err = train.RunSpec(ctx, cm.New, s, c, *out, train.Options{TestLimit: *testLimit, CheckpointEvery: *every, Memory: *memory})
	return MarkInput(err)
}

// interruptions are the signals that Interruptible catches.
var interruptions = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// Interruptible returns a context that Ctrl-C (SIGINT), SIGTERM or
// SIGHUP (the terminal closed) cancels, saying on stderr "PROG:
// interrupted: DOING (again: quit at once)"; its cause names the signal.
// By the time the context is done the signals' default action is back,
// so a second one ends the process whatever it is doing. The returned
// function cancels the context too and gives the signals their default
// action back.
func Interruptible(prog, doing string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	caught, released := make(chan os.Signal, 1), make(chan struct{})
	signal.Notify(caught, interruptions...)
	go func() {
		defer close(released)
		select {
		case sig := <-caught:
			signal.Stop(caught)
			fmt.Fprintf(os.Stderr, "\n%s: interrupted: %s (again: quit at once)\n", prog, doing)
			cancel(fmt.Errorf("%v signal received", sig))
		case <-ctx.Done():
			signal.Stop(caught)
		}
	}()
	return ctx, func() {
		cancel(context.Canceled)
		<-released
	}
}

// MarkInput marks an error of the library about its input
// (train.InputError: settings, a checkpoint's content, a spec or data
// that do not fit, a folder in use) as bad input; others (mkdir, write,
// fsync failures, non-finite values) stay runtime failures.
func MarkInput(err error) error {
	if errors.As(err, new(*train.InputError)) {
		return Bad(err)
	}
	return err
}
