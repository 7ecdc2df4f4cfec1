package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/netc/netc/runtime/cli"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/specs"
)

// runDemo trains the default spec twice on real MNIST, on clean images and
// adversarially, and compares their accuracy under PGD-40 at ε = 0.3
// (the paper-protocol figure beside the strict one) and, on the first
// images, under a stronger attack: PGD-200 with 5 random restarts.
func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	out := fs.String("out", filepath.Join("runs", "demo"), "folder of the two runs (a rerun resumes them)")
	stdImages := fs.Int("standard-images", 20000, "training images of the standard model (one pass)")
	advImages := fs.Int("adversarial-images", 40000, "training images of the adversarial fine-tuning (one pass)")
	steps := fs.Int("attack-steps", 2, "PGD iterations per training batch")
	evalLimit := fs.Int("eval-limit", 1000, "test images to evaluate (0: all 10,000)")
	evalIters := fs.Int("pgd", 40, "PGD iterations of the evaluation")
	strongIters := fs.Int("strong-pgd", 200, "PGD iterations of the strong untargeted attack")
	strongRestarts := fs.Int("strong-restarts", 5, "random restarts of the strong attack")
	strongLimit := fs.Int("strong-images", 100, "test images (the first) under the strong attack (0: no strong attack)")
	seed := fs.Uint64("seed", 1, "seed of every random draw")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return badf("demo: unexpected argument %q", pos[0])
	}
	switch {
	case *evalIters < 1, *strongIters < 1, *strongRestarts < 1:
		return badf("demo: --pgd, --strong-pgd and --strong-restarts must be >= 1")
	case *evalLimit < 0, *strongLimit < 0:
		return badf("demo: --eval-limit and --strong-images must be >= 0")
	}
	start := time.Now()
	s, err := specs.Parse(specs.Default)
	if err != nil {
		return err
	}
	g, err := compiler.Lower(s)
	if err != nil {
		return err
	}
	sum := g.Summarize(128)
	fmt.Fprintf(os.Stderr, "netc demo: %s, %d convs, %s parameters, %s multiply-adds per image\n",
		s.Model, sum.Convs, commas(sum.Params), commas(sum.MACs))

	base := train.Defaults(128)
	base.Data, base.Seed, base.LR, base.Smoothing = "mnist", *seed, 0.2, 0

	ctx, stop := cli.Interruptible("demo", "checkpointing where the runs stand; a rerun resumes them")
	defer stop()
	opts := train.Options{CheckpointEvery: train.DefaultCheckpointEvery}
	std := base
	std.Limit, std.DecayEpochs = *stdImages, []float64{0.75}
	stdDir := filepath.Join(*out, "standard")
	fmt.Fprintf(os.Stderr, "\n1. standard training on %d clean images\n", std.Limit)
	stdModel, err := train.RunSpec(ctx, interpreted, s, std, stdDir, opts)
	if err != nil {
		return cli.MarkInput(err)
	}

	// Adversarial training from scratch at ε = 0.3 stalls for about an
	// epoch; starting from the standard model with ε ramped up gets a
	// robust one in a fraction of one (docs/TRAINING.md measures each part).
	adv := base
	adv.Limit, adv.Init = *advImages, train.CheckpointPath(stdDir)
	adv.DecayEpochs, adv.EpsWarmup = []float64{0.75}, 0.6
	adv.Adversarial = true
	adv.Attack = pgd.Config{Eps: 0.3, Step: 0.2, Steps: *steps, Loss: pgd.Untargeted, CleanStart: 0.2}
	fmt.Fprintf(os.Stderr, "\n2. adversarial fine-tuning of that model on %d images: 100%% adversarial, untargeted PGD-%d, eps 0.3\n", adv.Limit, *steps)
	advModel, err := train.RunSpec(ctx, interpreted, s, adv, filepath.Join(*out, "adversarial"), opts)
	if err != nil {
		return cli.MarkInput(err)
	}

	test, err := data.Load("mnist", "test")
	if err != nil {
		return bad(err)
	}
	type row struct {
		name        string
		clean       float64
		acc, final  [2]float64 // untargeted, targeted
		hit         float64
		strong      float64
		strongClean float64
	}
	n := *evalLimit
	if n == 0 || n > test.Len() {
		n = test.Len()
	}
	strongN := min(*strongLimit, n)
	// run evaluates m on the first limit test images under loss with
	// iters iterations and restarts random starts (iters 0: clean only).
	run := func(what string, m nn.Model, loss pgd.Loss, iters, restarts, limit int) (*eval.Result, error) {
		c := eval.Config{Attack: pgd.Config{Eps: 0.3, Step: 0.01, Loss: loss}, Batch: demoBatch, Limit: limit, Seed: *seed, Restarts: restarts, Locate: diag.FirstNonFinite}
		if iters > 0 {
			c.Iters = []int{iters}
			fmt.Fprintf(os.Stderr, "\n3. evaluating the %s model: %s\n", what, attackName(loss, iters, restarts, limit))
		}
		return eval.RunContext(ctx, m, test, c)
	}
	var rows []row
	for _, r := range []struct {
		name string
		m    nn.Model
	}{{"standard", stdModel}, {"adversarial", advModel}} {
		rw := row{name: r.name}
		for i, loss := range []pgd.Loss{pgd.Untargeted, pgd.Targeted} {
			res, err := run(r.name, r.m, loss, *evalIters, 1, n)
			if err != nil {
				return err
			}
			p := res.Curve[0]
			rw.clean, rw.acc[i], rw.final[i] = res.Clean, p.Accuracy, p.FinalAccuracy
			if loss == pgd.Targeted {
				rw.hit = p.TargetSuccess
			}
		}
		if strongN > 0 {
			iters := *strongIters
			step := func(k int) float64 { return pgd.Config{Eps: 0.3, Step: 0.01, Steps: k}.EffectiveStep() }
			if rw.acc[0] == 0 && step(iters) == step(*evalIters) {
				// The PGD-40 attack broke every image. With the same
				// effective step, the strong attack's first restart
				// follows its trajectories on the first images (the
				// same seed, batches and draws), so it breaks them too:
				// its clean accuracy suffices.
				fmt.Fprintf(os.Stderr, "\nthe %s model: untargeted PGD-%d broke every image; the strong attack is not run\n", r.name, *evalIters)
				iters = 0
			}
			res, err := run(r.name, r.m, pgd.Untargeted, iters, *strongRestarts, strongN)
			if err != nil {
				return err
			}
			rw.strongClean = res.Clean
			if iters > 0 {
				rw.strong = res.Curve[0].Accuracy
			}
		}
		rows = append(rows, rw)
	}
	k := *evalIters
	fmt.Printf("\nMNIST test, L-inf eps 0.3, step 0.01, a random start per image and restart. \"All iterates\": classified correctly\n")
	fmt.Printf("clean and at every PGD iterate (robust accuracy); \"%s iterate\": correct at the last iterate only (the paper's protocol);\n", ordinal(k))
	fmt.Printf("target success: classified as the target at some iterate. The first %d test images", n)
	if strongN > 0 {
		fmt.Printf(", the strong attack the first %d", strongN)
	}
	fmt.Printf(".\n\n")
	head := fmt.Sprintf("| model | clean | PGD-%d untargeted, all iterates | PGD-%d untargeted, %s iterate | PGD-%d targeted, all iterates | PGD-%d targeted, %s iterate | target success |",
		k, k, ordinal(k), k, k, ordinal(k))
	rule := "| --- | --- | --- | --- | --- | --- | --- |"
	if strongN > 0 {
		head += fmt.Sprintf(" %s |", attackName(pgd.Untargeted, *strongIters, *strongRestarts, strongN))
		rule += " --- |"
	}
	fmt.Println(head)
	fmt.Println(rule)
	for _, r := range rows {
		fmt.Printf("| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% |", r.name, 100*r.clean, 100*r.acc[0], 100*r.final[0], 100*r.acc[1], 100*r.final[1], 100*r.hit)
		if strongN > 0 {
			fmt.Printf(" %.2f%% (clean %.2f%%) |", 100*r.strong, 100*r.strongClean)
		}
		fmt.Println()
	}
	fmt.Fprintf(os.Stderr, "\ndone in %s; runs in %s\n", time.Since(start).Round(time.Second), *out)
	return nil
}

// demoBatch is the demo's evaluation batch: every evaluation draws its
// random starts batch by batch.
const demoBatch = 200

// attackName is a demo column's attack: its loss, iterations, restarts
// and images.
func attackName(loss pgd.Loss, iters, restarts, images int) string {
	name := fmt.Sprintf("PGD-%d %s", iters, loss)
	if restarts > 1 {
		name += fmt.Sprintf(" x %d restarts", restarts)
	}
	return name + fmt.Sprintf(", all iterates, first %d images", images)
}

// ordinal is 40 -> "40th", 1 -> "1st".
func ordinal(k int) string {
	suffix := "th"
	switch {
	case k%100 >= 11 && k%100 <= 13:
	case k%10 == 1:
		suffix = "st"
	case k%10 == 2:
		suffix = "nd"
	case k%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", k, suffix)
}
