package main

import (
	"flag"
	"fmt"
	"github.com/netc/netc/runtime/cli"
	"os"
	"path/filepath"
	"time"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

// runDemo trains the default spec twice on real MNIST, on clean images and
// adversarially, and compares their accuracy under PGD-40 at ε = 0.3.
func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	out := fs.String("out", filepath.Join("runs", "demo"), "folder of the two runs (a rerun resumes them)")
	stdImages := fs.Int("standard-images", 20000, "training images of the standard model (one pass)")
	advImages := fs.Int("adversarial-images", 40000, "training images of the adversarial fine-tuning (one pass)")
	steps := fs.Int("attack-steps", 2, "PGD iterations per training batch")
	evalLimit := fs.Int("eval-limit", 1000, "test images to evaluate (0: all 10,000)")
	evalIters := fs.Int("pgd", 40, "PGD iterations of the evaluation")
	seed := fs.Uint64("seed", 1, "seed of every random draw")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return badf("demo: unexpected argument %q", pos[0])
	}
	start := time.Now()
	src, err := specs.FS.ReadFile(specs.Default)
	if err != nil {
		return err
	}
	s, err := spec.Parse(specs.Default, src)
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

	std := base
	std.Limit, std.DecayEpochs = *stdImages, []float64{0.75}
	stdDir := filepath.Join(*out, "standard")
	fmt.Fprintf(os.Stderr, "\n1. standard training on %d clean images\n", std.Limit)
	stdModel, err := cli.TrainSpec(interpreted, s, std, stdDir, 0)
	if err != nil {
		return err
	}

	// Adversarial training from scratch at ε = 0.3 stalls for a long time,
	// and at full ε from the start it often collapses to chance; starting
	// from the standard model with ε ramped up gets a robust one in a
	// fraction of an epoch.
	adv := base
	adv.Limit, adv.Init = *advImages, cli.CheckpointPath(stdDir)
	adv.DecayEpochs, adv.EpsWarmup = []float64{0.75}, 0.6
	adv.Adversarial = true
	adv.Attack = pgd.Config{Eps: 0.3, Step: 0.2, Steps: *steps, Loss: pgd.Untargeted, CleanStart: 0.2}
	fmt.Fprintf(os.Stderr, "\n2. adversarial fine-tuning of that model on %d images: 100%% adversarial, untargeted PGD-%d, eps 0.3\n", adv.Limit, *steps)
	advModel, err := cli.TrainSpec(interpreted, s, adv, filepath.Join(*out, "adversarial"), 0)
	if err != nil {
		return err
	}

	test, err := data.Load("mnist", "test")
	if err != nil {
		return bad(err)
	}
	type row struct {
		name  string
		clean float64
		acc   [2]float64
		hit   float64
	}
	var rows []row
	for _, r := range []struct {
		name string
		m    runtime.Model
	}{{"standard", stdModel}, {"adversarial", advModel}} {
		rw := row{name: r.name}
		for i, loss := range []pgd.Loss{pgd.Untargeted, pgd.Targeted} {
			fmt.Fprintf(os.Stderr, "\n3. evaluating the %s model: %s PGD-%d, eps 0.3\n", r.name, loss, *evalIters)
			res, err := eval.Run(r.m, test, eval.Config{
				Attack: pgd.Config{Eps: 0.3, Step: 0.01, Loss: loss},
				Iters:  []int{*evalIters}, Batch: 200, Limit: *evalLimit, Seed: *seed,
			})
			if err != nil {
				return err
			}
			rw.clean, rw.acc[i] = res.Clean, res.Curve[0].Accuracy
			if loss == pgd.Targeted {
				rw.hit = res.Curve[0].TargetSuccess
			}
		}
		rows = append(rows, rw)
	}
	n := *evalLimit
	if n == 0 || n > test.Len() {
		n = test.Len()
	}
	fmt.Printf("\nMNIST test, first %d images, L-inf eps 0.3, PGD-%d (step 0.01, random start):\n\n", n, *evalIters)
	fmt.Printf("| model | clean | PGD-%d untargeted | PGD-%d targeted | target success |\n", *evalIters, *evalIters)
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Printf("| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% |\n", r.name, 100*r.clean, 100*r.acc[0], 100*r.acc[1], 100*r.hit)
	}
	fmt.Fprintf(os.Stderr, "\ndone in %s; runs in %s\n", time.Since(start).Round(time.Second), *out)
	return nil
}
