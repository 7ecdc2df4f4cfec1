package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
)

// Eval is the eval command: clean and PGD accuracy of a checkpoint's
// weights. The attack is the run's training
// attack (its eps and loss) unless flags say otherwise; the table goes
// to stdout, progress and the settings' origins to stderr.
func (cm Commands) Eval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	src := fs.String("data", "", "data set (default: the one the run trained on)")
	pgdList := fs.String("pgd", "10,100", "PGD iteration counts, e.g. 10,20,100,500,1000,2000; 0: clean accuracy only")
	c := eval.Config{Attack: pgd.Paper(), Batch: 100, Seed: 1, Locate: cm.Locate}
	var more []pgd.Loss
	finishAttack := AttackFlags(fs, &c.Attack, &more)
	for name, paper := range map[string]string{"eps": "16/255", "attack": "targeted"} {
		fl := fs.Lookup(name)
		fl.Usage += fmt.Sprintf(" (default: the run's training attack's; %s, the paper's, if it trained on clean images)", paper)
		fl.DefValue = ""
	}
	memory := MemoryFlag(fs)
	fs.IntVar(&c.Restarts, "restarts", 1, "random starts per image: robust only if it survives all")
	fs.IntVar(&c.Batch, "batch", c.Batch, "images per batch")
	fs.IntVar(&c.Limit, "limit", c.Limit, "evaluate the first N test images only (0: all)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the attack's random draws")
	branch := fs.String("branch", "adv", "MBN branch to evaluate: clean or adv")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout: clean_accuracy and one entry per attack in attacks")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: eval RUN|CKPT [flags]

Clean accuracy and, per PGD iteration count K, robust accuracy: an image
counts if it is classified correctly clean and at every iterate up to K
(of every restart); beside it the paper's protocol, the K-th iterate
only. Every attack starts at a random point of the eps-cube. Without
--eps and --attack the attack is the run's own training attack (its eps
and loss); the settings used and their origins are printed.

flags:
`)
		fs.PrintDefaults()
	}
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return Badf("eval: want one RUN folder or checkpoint file, got %d arguments", len(pos))
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if err := finishAttack(); err != nil {
		return err
	}
	if c.Iters, err = PGDCounts(*pgdList); err != nil {
		return Badf("--pgd: %w", err)
	}
	switch *branch {
	case "clean":
		c.Branch = nn.Clean
	case "adv":
		c.Branch = nn.Adv
	default:
		return Badf("--branch %q: want clean or adv", *branch)
	}
	if c.Restarts < 1 {
		return Badf("--restarts %d: want >= 1", c.Restarts)
	}
	if err := c.Validate(); err != nil {
		return Bad(err)
	}
	m, meta, path, err := train.LoadModel(cm.New, pos[0], *memory)
	if err != nil {
		return MarkInput(err)
	}
	settings, err := runAttack(&c.Attack, &more, meta, set)
	if err != nil {
		return Badf("%s: %w", path, err)
	}
	if *src == "" {
		*src = meta.Config.Data
	}
	test, err := data.LoadTest(m.Spec(), *src)
	if err != nil {
		return Bad(err)
	}
	if len(c.Iters) > 0 {
		fmt.Fprintf(os.Stderr, "eval: %s\n", describeSettings(c.Attack, more, settings, path))
	} else {
		settings = nil
	}
	if err := train.CheckMemory(m.Spec(), c.Batch, *memory); err != nil {
		return MarkInput(err)
	}
	var results []*eval.Result
	byLoss := map[pgd.Loss]*eval.Result{}
	losses := append([]pgd.Loss{c.Attack.Loss}, more...)
	if len(c.Iters) == 0 {
		losses = losses[:1] // the clean pass only
	}
	ctx, stop := Interruptible("eval", "stopping; an interrupted evaluation has no result")
	defer stop()
	for _, loss := range losses {
		c.Attack.Loss = loss
		res, err := eval.RunContext(ctx, m, test, c)
		if errors.As(err, new(*eval.NonFiniteError)) || errors.As(err, new(*nn.NonFiniteError)) {
			return err // a model that is not finite: a runtime failure
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w; no result", err) // a runtime failure
		}
		if err != nil {
			return Bad(err) // the data does not fit the evaluation
		}
		results = append(results, res)
		byLoss[loss] = res
	}
	r, err := eval.NewReport(path, m.Spec().Model, *src, results)
	if err != nil {
		return err
	}
	r.Settings = settings
	if u, t := byLoss[pgd.Untargeted], byLoss[pgd.Targeted]; u != nil && t != nil {
		if w := eval.Masking(u, t); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return PrintReport(os.Stdout, r)
}

// PGDCounts parses eval's --pgd list: PGD iteration counts >= 1, or "0"
// alone for clean accuracy only (no counts, nil).
func PGDCounts(list string) ([]int, error) {
	counts, err := Ints(list)
	if err != nil {
		return nil, err
	}
	for _, k := range counts {
		switch {
		case k == 0 && len(counts) > 1:
			return nil, fmt.Errorf("%q: 0 means clean accuracy only, alone", list)
		case k < 0:
			return nil, fmt.Errorf("%q: PGD iterations %d: want >= 1 (or 0 alone: clean accuracy only)", list, k)
		}
	}
	if len(counts) == 1 && counts[0] == 0 {
		return nil, nil
	}
	return counts, nil
}

// runAttack sets the attack settings that no flag set (set holds the
// flags given) from the run's training attack in meta: its eps and
// loss, if it trained adversarially. It returns where each setting came
// from: "flag", "run" or "default".
func runAttack(c *pgd.Config, more *[]pgd.Loss, meta *train.Meta, set map[string]bool) (map[string]string, error) {
	from := map[string]string{}
	for _, name := range []string{"eps", "step", "attack", "attack-norm"} {
		from[name] = "default"
		if set[name] {
			from[name] = "flag"
		}
	}
	run := meta.Config.Attack
	if !meta.Config.Adversarial || run.Steps == 0 {
		return from, nil // trained on clean images: no attack of its own
	}
	if !set["eps"] {
		if !(run.Eps > 0 && run.Eps <= 1) {
			return nil, fmt.Errorf("its training attack has eps %g: want a value in (0, 1]; give --eps", run.Eps)
		}
		c.Eps, from["eps"] = run.Eps, "run"
	}
	if !set["attack"] {
		if !run.Loss.Valid() {
			return nil, fmt.Errorf("its training attack has loss %d: not one netc knows; give --attack", int(run.Loss))
		}
		c.Loss, *more, from["attack"] = run.Loss, nil, "run"
	}
	return from, nil
}

// describeSettings says which attack an evaluation runs and where its
// settings came from.
func describeSettings(c pgd.Config, more []pgd.Loss, from map[string]string, path string) string {
	origin := map[string]string{"flag": "the flag", "run": "the run's training attack in " + path, "default": "netc's default"}
	losses := c.Loss.String()
	for _, l := range more {
		losses += "," + l.String()
	}
	return fmt.Sprintf("attack %s (%s), eps %.4g (%s), step %.4g (%s), attack BN statistics %s (%s); a random start per image and restart",
		losses, origin[from["attack"]], c.Eps, origin[from["eps"]], c.Step, origin[from["step"]], normName(c.Norm), origin[from["attack-norm"]])
}

// normName is the --attack-norm value of a norm mode.
func normName(n nn.NormMode) string {
	if n == nn.BatchStats {
		return "train"
	}
	return "inference"
}

// PrintReport writes an evaluation report as a table for people: the
// model and images, then per attack its settings and one row per PGD
// count, then the warnings.
func PrintReport(w io.Writer, r *eval.Report) error {
	bw := bufio.NewWriter(w)
	top5 := r.CleanTop5 > 0
	fmt.Fprintf(bw, "%s (%s): %d test images of %s, branch %s\n", r.Model, r.Checkpoint, r.Images, r.Data, r.Branch)
	fmt.Fprintf(bw, "  clean            accuracy %6.2f%%", 100*r.Clean)
	if top5 {
		fmt.Fprintf(bw, "   top-5 %6.2f%%", 100*r.CleanTop5)
	}
	fmt.Fprintln(bw)
	if len(r.Attacks) == 0 {
		fmt.Fprintln(bw, "  no attack (--pgd 0)")
	}
	for _, a := range r.Attacks {
		restarts := "1 random start per image"
		if a.Restarts > 1 {
			restarts = fmt.Sprintf("%d random starts per image", a.Restarts)
		}
		norm := map[string]string{"running": "inference", "batch": "train"}[a.Norm]
		fmt.Fprintf(bw, "\n%s PGD, eps %.4g, step %.4g, attack BN statistics %s, %s, seed %d\n", a.Attack, a.Eps, a.Step, norm, restarts, a.Seed)
		fmt.Fprintln(bw, "  accuracy: correct clean and at every iterate up to K, in every start; at K-th: correct at the K-th iterate (the paper's protocol)")
		targeted := a.Attack == pgd.Targeted.String()
		fmt.Fprintf(bw, "  %-11s %9s %9s", "", "accuracy", "at K-th")
		if top5 {
			fmt.Fprintf(bw, " %9s %9s", "top-5", "at K-th")
		}
		if targeted {
			fmt.Fprintf(bw, " %15s %9s", "target success", "at K-th")
		}
		fmt.Fprintf(bw, "   %s\n", "effective step")
		for _, p := range a.Curve {
			fmt.Fprintf(bw, "  %-11s %8.2f%% %8.2f%%", fmt.Sprintf("PGD-%d", p.Iters), 100*p.Accuracy, 100*p.FinalAccuracy)
			if top5 {
				fmt.Fprintf(bw, " %8.2f%% %8.2f%%", 100*p.Top5, 100*p.FinalTop5)
			}
			if targeted {
				fmt.Fprintf(bw, " %14.2f%% %8.2f%%", 100*p.TargetSuccess, 100*p.FinalTargetSuccess)
			}
			fmt.Fprintf(bw, "   %.4g\n", p.Step)
		}
		for _, warning := range a.Warnings {
			fmt.Fprintf(bw, "  warning: %s\n", warning)
		}
	}
	for _, warning := range r.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", warning)
	}
	return bw.Flush()
}

// loadForTest loads the model of checkpoint arg and the test split of
// data set *src (if empty, the one the run trained on, which *src is set
// to), with the memory that one step may need.
func (cm Commands) loadForTest(arg string, src *string, memory int64) (nn.Model, string, *data.Dataset, error) {
	m, meta, path, err := train.LoadModel(cm.New, arg, memory)
	if err != nil {
		return nil, "", nil, MarkInput(err)
	}
	if *src == "" {
		*src = meta.Config.Data
	}
	test, err := data.LoadTest(m.Spec(), *src)
	if err != nil {
		return nil, "", nil, Bad(err)
	}
	return m, path, test, nil
}
