package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/netc/netc/runtime"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// Eval is the eval command: clean and PGD accuracy of a checkpoint's
// weights in a model built by f.
func Eval(f Factory, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	src := fs.String("data", "", "data set (default: the one the run trained on)")
	pgdList := fs.String("pgd", "10,100", "PGD iteration counts, e.g. 10,20,100,500,1000,2000")
	c := eval.Config{Attack: PaperAttack(), Batch: 100, Seed: 1}
	var more []pgd.Loss
	finishAttack := AttackFlags(fs, &c.Attack, &more)
	MemoryFlag(fs)
	fs.IntVar(&c.Restarts, "restarts", 1, "random starts per image: robust only if it survives all")
	fs.IntVar(&c.Batch, "batch", c.Batch, "images per batch")
	fs.IntVar(&c.Limit, "limit", c.Limit, "evaluate the first N test images only (0: all)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the attack's random draws")
	branch := fs.String("branch", "adv", "MBN branch to evaluate: clean or adv")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout (an array of them for several attacks)")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return Badf("eval: want one RUN folder or checkpoint file, got %d arguments", len(pos))
	}
	if err := finishAttack(); err != nil {
		return err
	}
	if c.Iters, err = Ints(*pgdList); err != nil {
		return Badf("--pgd: %v", err)
	}
	switch *branch {
	case "clean":
		c.Branch = runtime.Clean
	case "adv":
		c.Branch = runtime.Adv
	default:
		return Badf("--branch %q: want clean or adv", *branch)
	}
	m, path, test, err := loadForTest(f, pos[0], src)
	if err != nil {
		return err
	}
	if c.Batch < 1 {
		return Badf("--batch %d: want >= 1", c.Batch)
	}
	if err := CheckMemory(m.Spec(), c.Batch); err != nil {
		return err
	}
	var results []*eval.Result
	byLoss := map[pgd.Loss]*eval.Result{}
	for _, loss := range append([]pgd.Loss{c.Attack.Loss}, more...) {
		c.Attack.Loss = loss
		res, err := eval.Run(m, test, c)
		if err != nil {
			return Bad(err)
		}
		results = append(results, res)
		byLoss[loss] = res
	}
	if u, t := byLoss[pgd.Untargeted], byLoss[pgd.Targeted]; u != nil && t != nil {
		if w := eval.Masking(u, t); w != "" {
			u.Warnings, t.Warnings = append(u.Warnings, w), append(t.Warnings, w)
		}
	}
	if *asJSON {
		type output struct {
			Checkpoint string `json:"checkpoint"`
			Data       string `json:"data"`
			*eval.Result
		}
		var out []output
		for _, r := range results {
			out = append(out, output{path, *src, r})
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if len(out) == 1 {
			return enc.Encode(out[0])
		}
		return enc.Encode(out)
	}
	for _, r := range results {
		printResult(os.Stderr, m.Spec().Model, path, r)
	}
	return nil
}

func printResult(w io.Writer, model, path string, r *eval.Result) {
	restarts := ""
	if r.Restarts > 1 {
		restarts = fmt.Sprintf(", %d restarts", r.Restarts)
	}
	fmt.Fprintf(w, "%s (%s): %d test images, %s PGD, eps %.4g, seed %d%s\n", model, path, r.Images, r.Attack, r.Eps, r.Seed, restarts)
	top5 := func(v float64) string {
		if r.CleanTop5 == 0 {
			return ""
		}
		return fmt.Sprintf("   top-5 %6.2f%%", 100*v)
	}
	fmt.Fprintf(w, "  clean        accuracy %6.2f%%%s\n", 100*r.Clean, top5(r.CleanTop5))
	for _, p := range r.Curve {
		fmt.Fprintf(w, "  PGD-%-5d    accuracy %6.2f%%%s", p.Iters, 100*p.Accuracy, top5(p.Top5))
		if r.Attack == pgd.Targeted.String() {
			fmt.Fprintf(w, "   target success %6.2f%%", 100*p.TargetSuccess)
		}
		fmt.Fprintf(w, "   (step %.4g)\n", p.Step)
	}
	for _, warning := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}

// LoadModel opens a run folder (its last checkpoint) or a checkpoint
// file and builds, with f, the model it holds.
func LoadModel(f Factory, arg string) (runtime.Model, *train.Meta, string, error) {
	path := CheckpointPath(arg)
	c, err := train.OpenCheckpoint(path)
	if err != nil {
		return nil, nil, "", Bad(err)
	}
	s, err := spec.Parse(path+"[spec]", []byte(c.Meta.Spec))
	if err != nil {
		return nil, nil, "", Badf("%s: its spec does not parse: %v", path, err)
	}
	if err := CheckMemory(s, 1); err != nil {
		return nil, nil, "", err
	}
	m, err := f(s, 0)
	if err != nil {
		return nil, nil, "", Bad(err)
	}
	if err := c.Restore(m, nil); err != nil {
		return nil, nil, "", Bad(err)
	}
	meta := &c.Meta
	return m, meta, path, nil
}

// loadForTest loads a checkpoint's model and the test split of data set
// *src (if empty, the one the run trained on, which *src is set to).
func loadForTest(f Factory, arg string, src *string) (runtime.Model, string, *data.Dataset, error) {
	m, meta, path, err := LoadModel(f, arg)
	if err != nil {
		return nil, "", nil, err
	}
	if *src == "" {
		*src = meta.Config.Data
	}
	test, err := data.Load(*src, "test")
	if err != nil {
		return nil, "", nil, Bad(err)
	}
	if err := Compatible(m.Spec(), test); err != nil {
		return nil, "", nil, err
	}
	if err := test.MatchSplit(*src, "train"); err != nil {
		return nil, "", nil, Bad(err)
	}
	return m, path, test, nil
}

// CheckpointPath is the checkpoint a RUN folder or file argument names.
func CheckpointPath(arg string) string {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		return filepath.Join(arg, "checkpoints", "last.safetensors")
	}
	return arg
}
