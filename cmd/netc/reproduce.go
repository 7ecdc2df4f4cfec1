package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/netc/netc/experiments"
	"github.com/netc/netc/runtime/cli"
)

func runReproduce(args []string) error {
	fs := flag.NewFlagSet("reproduce", flag.ContinueOnError)
	out := fs.String("out", "", "folder of the grid's runs (default runs/reproduce-GRID); a rerun resumes them")
	rows := fs.String("row", "", "run only these rows (comma-separated) and the rows they start from")
	doc := fs.String("doc", filepath.Join("docs", "REPRODUCTION.md"), "the report to write the grid's section into")
	list := fs.Bool("list", false, "list the grid's rows and exit")
	cifar := fs.String("data", "cifar10:"+filepath.Join("runs", "cifar10"), "the cifar grid's data (make reproduce-cifar extracts ../shared/data there)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badf("reproduce: want a grid: mnist or cifar")
	}
	var g *experiments.Grid
	switch pos[0] {
	case "mnist":
		g = experiments.MNIST()
	case "cifar":
		g = experiments.CIFAR(*cifar)
	default:
		return badf("reproduce: unknown grid %q (grids: mnist, cifar)", pos[0])
	}
	if *list {
		for _, r := range g.Rows {
			fmt.Printf("%-24s %s\n", r.Name, r.Label)
		}
		return nil
	}
	if *out == "" {
		*out = filepath.Join("runs", "reproduce-"+g.Name)
	}
	var only []string
	if *rows != "" {
		only = strings.Split(*rows, ",")
		for _, name := range only {
			if _, ok := g.Row(name); !ok {
				return badf("reproduce: the %s grid has no row %q (--list lists them)", g.Name, name)
			}
		}
	}
	r := &experiments.Runner{Grid: g, Dir: *out, New: interpreted, Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f, a...) }}
	ctx, stop := cli.Interruptible("reproduce", "checkpointing where the row stands; a rerun resumes the grid")
	defer stop()
	res, err := r.Run(ctx, only...)
	figs, ferr := r.Figures(filepath.Join(filepath.Dir(*doc), "figures"), filepath.Dir(*doc), res)
	if werr := g.WriteDoc(*doc, res, figs); werr != nil && err == nil {
		err = werr
	}
	if ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\n%d of %d rows done; report: %s\n", len(res), len(g.Rows), *doc)
	return nil
}
