package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	batch := fs.Int("batch", 32, "batch size for the memory estimate")
	program := fs.String("program", "", "print the lowered program of a pass instead: train or attack")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badf("check: want one SPEC file, got %d arguments", len(pos))
	}
	if *batch < 1 {
		return badf("check: --batch %d: want >= 1", *batch)
	}
	s, err := spec.ParseFile(pos[0])
	if err != nil {
		return bad(err)
	}
	g, err := compiler.Lower(s)
	if err != nil {
		return bad(err)
	}
	if *program != "" {
		pass, ok := map[string]compiler.Pass{"train": compiler.TrainPass, "attack": compiler.AttackPass}[*program]
		if !ok {
			return badf("check: --program %q: want train or attack", *program)
		}
		p := g.Program(pass)
		if p == nil {
			fmt.Printf("%s: no BN folds into a convolution, so the attack runs the train program\n", s.File)
			p = g.Program(compiler.TrainPass)
		}
		fmt.Print(p)
		return nil
	}
	sum := g.Summarize(*batch)
	var arena int64 // bytes of a step on the kernel path: the programs' arena, parameters with gradient and momentum
	if compiler.Supported(g, kernels.Block) == nil {
		size := compiler.ArenaSize(g.Program(compiler.TrainPass), g.Program(compiler.AttackPass))
		arena = 4*int64(size)*int64(*batch) + 3*4*sum.Params
	}
	if *asJSON {
		out := struct {
			compiler.Summary
			File    string `json:"file"`
			Input   [3]int `json:"input"`
			Classes int    `json:"classes"`
			Block   string `json:"block"`
			Stages  []int  `json:"stages"`
			Widen   int    `json:"widen"`
			Norm    string `json:"norm"`
			// KernelTrainBytes is a training step's memory on the kernels (0 where they cannot run the spec).
			KernelTrainBytes int64 `json:"kernel_train_bytes"`
		}{sum, s.File, s.Input, s.Classes, s.Block.String(), s.Stages, s.Widening(), s.Norm.Kind.String(), arena}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	widen := ""
	if s.Widening() != 1 {
		widen = fmt.Sprintf(", widen %d", s.Widening())
	}
	fmt.Printf("%s (%s): %dx%dx%d -> %d classes, %s stem, %s blocks, stages %s, width %d%s, norm %s\n",
		s.Model, s.File, s.Input[0], s.Input[1], s.Input[2], s.Classes, s.Stem, s.Block,
		strings.Trim(fmt.Sprint(s.Stages), "[]"), s.Width, widen, s.Norm.Kind)
	fmt.Printf("  nodes          %d (%d convs, %d norms)\n", sum.Nodes, sum.Convs, sum.Norms)
	fmt.Printf("  parameters     %s\n", commas(sum.Params))
	fmt.Printf("  multiply-adds  %s per image (%.3g G)\n", commas(sum.MACs), float64(sum.MACs)/1e9)
	step := fmt.Sprintf("%s on the kernels (their arena, the parameters with gradient and momentum)", train.FormatBytes(arena))
	if arena == 0 {
		step = fmt.Sprintf("about %s on the reference ops (every node's output and gradient: a width not a multiple of %d)", train.FormatBytes(sum.TrainBytes), kernels.Block)
	}
	fmt.Printf("  memory         batch %d: activations %s; a training step at least %s, %s\n",
		sum.Batch, train.FormatBytes(sum.ActivationBytes), train.FormatBytes(sum.MinTrainBytes), step)
	if have, from := train.MachineMemory("/"); have > 0 && sum.MinTrainBytes > have {
		fmt.Printf("  warning        that is more than the %s of memory %s: train and eval will refuse it\n", train.FormatBytes(have), from)
	}
	return nil
}

// commas writes n with thousands separators: 25,557,032; math.MaxInt64,
// what a saturated count holds, is "more than 9,223,372,036,854,775,806".
func commas(n int64) string {
	if n == math.MaxInt64 {
		return "more than " + commas(n-1)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func runFmt(args []string) error {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	write := fs.Bool("w", false, "rewrite the files instead of printing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return badf("fmt: want at least one SPEC file")
	}
	for _, path := range pos {
		src, err := os.ReadFile(path)
		if err != nil {
			return bad(err)
		}
		out, err := spec.Format(path, src)
		if err != nil {
			return bad(err)
		}
		if !*write {
			os.Stdout.Write(out)
			continue
		}
		if string(out) == string(src) {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if err := renameio.WriteFile(path, out, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
