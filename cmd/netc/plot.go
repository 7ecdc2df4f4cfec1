package main

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/netc/netc/plot"
	"github.com/netc/netc/runtime/eval"
)

// `netc plot KIND INPUT... -o FILE.png` draws one of the paper's figures
// from `netc eval --json` or `netc stats --json` outputs (package plot).
const plotKinds = `kinds:
  curve  EVAL.json...          accuracy vs PGD iterations, one line per model (Fig. 2/3)
  ratio  EVAL.json... --x ...  clean and robust accuracy vs the ratio of clean images (Fig. 1)
  depth  EVAL.json... --x ...  clean and robust accuracy vs depth or multiply-adds (Fig. 7)
  stats  STATS.json [--layer]  per-channel running (and batch) mean and variance of a BN layer (Fig. 5/6)

Robust accuracy is the eval JSON's accuracy (correct clean and at every
iterate up to K) unless --final draws final_accuracy (the K-th iterate
only, the paper's protocol); the y axis says which.
`

func runPlot(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	out := fs.String("o", "", "the PNG file to write")
	labels := fs.String("label", "", "curve: legend labels, comma-separated, one per input (default: the file names)")
	xs := fs.String("x", "", "ratio, depth: the x value of each input, comma-separated, e.g. 0,0.2,0.6,1")
	xlabel := fs.String("xlabel", "", "the x axis's label (default: the figure's)")
	layer := fs.String("layer", "", "stats: the BN layer, e.g. layer2.0.bn1 (default: the only one)")
	title := fs.String("title", "", "the figure's title")
	attack := fs.String("attack", "", "curve, ratio, depth: the attack to draw from inputs with several (default: curve all, ratio and depth the first)")
	final := fs.Bool("final", false, "curve, ratio, depth: draw final_accuracy (correct at the K-th iterate, the paper's protocol) instead of accuracy (correct clean and at every iterate up to K)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: netc plot KIND [flags] INPUT... -o FILE.png\n\n%s\nflags:\n", plotKinds)
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return badf("plot: want a KIND and inputs\n%s", plotKinds)
	}
	kind, inputs := pos[0], pos[1:]
	switch {
	case kind != "curve" && kind != "ratio" && kind != "depth" && kind != "stats":
		return badf("plot: unknown kind %q\n%s", kind, plotKinds)
	case *out == "":
		return badf("plot: want -o FILE.png")
	case !strings.EqualFold(filepath.Ext(*out), ".png"):
		return badf("plot: -o %s: want a .png file", *out)
	case len(inputs) == 0:
		return badf("plot %s: want input files", kind)
	case kind == "stats" && len(inputs) != 1:
		return badf("plot stats: want one `netc stats --json` file, got %d", len(inputs))
	case *labels != "" && kind != "curve":
		return badf("plot %s: --label is for curve only", kind)
	case *xs != "" && kind != "ratio" && kind != "depth":
		return badf("plot %s: --x is for ratio and depth only", kind)
	case *layer != "" && kind != "stats":
		return badf("plot %s: --layer is for stats only", kind)
	case *attack != "" && kind == "stats":
		return badf("plot stats: --attack is for curve, ratio and depth")
	case *final && kind == "stats":
		return badf("plot stats: --final is for curve, ratio and depth")
	}
	// evals reads an eval JSON file: every attack in it, or --attack's,
	// with the accuracy that --final selects.
	evals := func(path string) ([]*plot.Eval, error) {
		es, err := plot.ReadEval(path)
		if err != nil {
			return nil, bad(err)
		}
		if *final {
			for _, e := range es {
				e.Curve = finalAccuracy(e.Curve)
			}
		}
		if *attack == "" {
			return es, nil
		}
		var have []string
		for _, e := range es {
			if e.Attack == *attack {
				return []*plot.Eval{e}, nil
			}
			have = append(have, e.Attack)
		}
		return nil, badf("%s: no %s attack (it has %s)", path, *attack, strings.Join(have, ", "))
	}
	o := plot.Options{Title: *title, XLabel: *xlabel, YLabel: yLabel(kind, *final)}
	var buf bytes.Buffer
	switch kind {
	case "curve":
		names := make([]string, len(inputs))
		for i, in := range inputs {
			names[i] = strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		}
		if *labels != "" {
			names = strings.Split(*labels, ",")
			if len(names) != len(inputs) {
				return badf("plot: --label has %d labels for %d inputs", len(names), len(inputs))
			}
		}
		var series []plot.Series
		for i, in := range inputs {
			es, err := evals(in)
			if err != nil {
				return err
			}
			for _, e := range es {
				label := names[i]
				if len(es) > 1 {
					label += ", " + e.Attack
				}
				series = append(series, plot.Series{Label: label, Eval: e})
			}
		}
		err = plot.Curve(&buf, series, o)
	case "ratio", "depth":
		if *xs == "" {
			return badf("plot %s: want --x with one value per input", kind)
		}
		fields := strings.Split(*xs, ",")
		if len(fields) != len(inputs) {
			return badf("plot %s: --x has %d values for %d inputs", kind, len(fields), len(inputs))
		}
		var pts []plot.Point
		for i, in := range inputs {
			x, err := strconv.ParseFloat(strings.TrimSpace(fields[i]), 64)
			if err != nil {
				return badf("plot %s: --x: bad number %q", kind, fields[i])
			}
			es, err := evals(in)
			if err != nil {
				return err
			}
			pts = append(pts, plot.Point{X: x, Eval: es[0]})
		}
		if kind == "ratio" {
			err = plot.Ratio(&buf, pts, o)
		} else {
			err = plot.Depth(&buf, pts, o)
		}
	case "stats":
		r, err2 := plot.ReadStats(inputs[0])
		if err2 != nil {
			return bad(err2)
		}
		if err = plot.Stats(&buf, r, *layer, o); err != nil {
			return badf("%s: %w", inputs[0], err)
		}
	}
	if err != nil {
		return bad(err)
	}
	if err := renameio.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return bad(err)
	}
	return nil
}

// finalAccuracy is a curve whose Accuracy is each point's FinalAccuracy
// (and TargetSuccess its FinalTargetSuccess).
func finalAccuracy(curve []eval.Point) []eval.Point {
	out := slices.Clone(curve)
	for i := range out {
		out[i].Accuracy, out[i].TargetSuccess, out[i].Top5 = out[i].FinalAccuracy, out[i].FinalTargetSuccess, out[i].FinalTop5
	}
	return out
}

// yLabel names what a figure's y axis shows: which robust accuracy
// (the flag's help says it in full).
func yLabel(kind string, final bool) string {
	switch {
	case kind == "curve" && final:
		return "accuracy at the K-th iterate (%)"
	case kind == "curve":
		return "accuracy at all iterates (%)"
	case final:
		return "accuracy (%); PGD: K-th iterate"
	}
	return "accuracy (%); PGD: all iterates"
}
