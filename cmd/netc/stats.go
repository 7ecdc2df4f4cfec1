package main

import (
	"flag"
	"os"

	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
)

// `netc stats RUN|CKPT` prints the per-channel running statistics of a
// checkpoint's BN layers (both branches of Mixture BN: the paper's Fig.
// 5) and, with --batches N, the batch statistics of N test batches of
// clean or adversarial images next to them (Fig. 6). It runs on the
// interpreter; nothing it does changes the running statistics.
func runStats(args []string) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	block := fs.String("block", "", "only the BN layers named `NAME` or under it, e.g. layer2.0 or layer2.0.bn1 (default: all)")
	src := fs.String("data", "", "test data of the batch statistics (default: the one the run trained on)")
	batches := fs.Int("batches", 0, "also measure batch statistics on the first `N` test batches")
	batch := fs.Int("batch", 100, "images per batch")
	adversarial := fs.Bool("adversarial", false, "batch statistics of PGD adversarial images (the paper's attack unless the attack flags say otherwise; a random start, as in eval)")
	att := pgd.Paper() // diag.Collect starts it at random, as evaluation does
	finishAttack := cli.AttackFlags(fs, &att, nil)
	fs.IntVar(&att.Steps, "attack-steps", att.Steps, "PGD iterations of --adversarial")
	seed := fs.Uint64("seed", 1, "seed of the attack's random draws")
	branch := fs.String("branch", "both", "branches of Mixture BN layers: clean, adv or both")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	asCSV := fs.Bool("csv", false, "print CSV on stdout: layer,branch,channel,running_mean,running_var[,batch_mean,batch_var]")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badf("stats: want one RUN folder or checkpoint file, got %d arguments", len(pos))
	}
	if err := finishAttack(); err != nil {
		return err
	}
	switch {
	case *asJSON && *asCSV:
		return badf("stats: --json and --csv exclude each other")
	case *batches < 0:
		return badf("stats: --batches %d: want >= 0", *batches)
	case *batch < 1:
		return badf("stats: --batch %d: want >= 1", *batch)
	case *adversarial && *batches == 0:
		return badf("stats: --adversarial needs --batches N: it is about batch statistics")
	case *adversarial && att.Steps < 1:
		return badf("stats: --attack-steps %d: want >= 1", att.Steps)
	}
	c := diag.Config{Prefix: *block, Batches: *batches, Batch: *batch, Adversarial: *adversarial, Attack: att, Seed: *seed}
	switch *branch {
	case "both":
	case "clean":
		c.Branches = []nn.Branch{nn.Clean}
	case "adv":
		c.Branches = []nn.Branch{nn.Adv}
	default:
		return badf("stats: --branch %q: want clean, adv or both", *branch)
	}
	m, meta, path, err := train.LoadModel(interpreted, pos[0], 0)
	if err != nil {
		return cli.MarkInput(err)
	}
	var test *data.Dataset
	if c.Batches > 0 {
		if *src == "" {
			*src = meta.Config.Data
		}
		if test, err = data.LoadTest(m.Spec(), *src); err != nil {
			return bad(err)
		}
	}
	r, err := diag.Collect(m, test, c)
	if err != nil {
		return badf("%s: %w", path, err)
	}
	r.Checkpoint = path
	if c.Batches > 0 {
		r.Data = *src
	}
	switch {
	case *asJSON:
		return r.WriteJSON(os.Stdout)
	case *asCSV:
		return r.WriteCSV(os.Stdout)
	}
	return r.WriteTable(os.Stdout)
}
