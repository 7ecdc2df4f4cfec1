// Command abtest compares two builds (or two ways of running one) on a
// shared, noisy machine: it runs command A and command B alternately
// (A, B, A, B, ... for --rounds rounds), reads the JSON each prints, and
// writes, per figure, the median of each side and the ratio B/A.
//
//	go run ./bench/abtest --a 'OLD/netc bench kernels --json' --b 'bin/netc bench kernels --json' [--rounds 5] [--json]
//
// The figures of a JSON output are its numbers: the top-level ones (a
// model binary's `bench --json`: images/s per workload; batch and threads
// are kept as labels), and, for `netc bench kernels --json`, the gflops
// of every entry of "kernels", named net/layer/op/batch/threads. Both
// sides must print the same figures. A ratio above 1 means B is faster
// (every figure netc prints is a rate). The summary line gives the
// geometric mean of the ratios and their range.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

func main() {
	a := flag.String("a", "", "command A (the baseline), run with sh -c")
	b := flag.String("b", "", "command B, run with sh -c")
	rounds := flag.Int("rounds", 5, "rounds of A then B")
	asJSON := flag.Bool("json", false, "print one JSON object instead of a table")
	flag.Parse()
	if *a == "" || *b == "" || *rounds < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: abtest --a CMD --b CMD [--rounds N] [--json]")
		os.Exit(2)
	}
	runs := map[string][]map[string]float64{}
	for r := range *rounds {
		for _, side := range []struct{ name, cmd string }{{"A", *a}, {"B", *b}} {
			fmt.Fprintf(os.Stderr, "abtest: round %d/%d: %s\n", r+1, *rounds, side.name)
			figs, err := run(side.cmd)
			if err != nil {
				fmt.Fprintf(os.Stderr, "abtest: %s (%s): %v\n", side.name, side.cmd, err)
				os.Exit(1)
			}
			runs[side.name] = append(runs[side.name], figs)
		}
	}
	rep, err := compare(runs["A"], runs["B"])
	if err != nil {
		fmt.Fprintln(os.Stderr, "abtest:", err)
		os.Exit(1)
	}
	rep.A, rep.B, rep.Rounds = *a, *b, *rounds
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(rep)
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "figure\tmedian A\tmedian B\tB/A\t")
	for _, f := range rep.Figures {
		fmt.Fprintf(w, "%s\t%.4g\t%.4g\t%.3f\t\n", f.Name, f.A, f.B, f.Ratio)
	}
	w.Flush()
	fmt.Printf("%d figures, %d rounds alternating: B/A geometric mean %.3f (from %.3f to %.3f)\n",
		len(rep.Figures), rep.Rounds, rep.GeoMean, rep.Min, rep.Max)
}

// Report is the comparison.
type Report struct {
	A, B     string
	Rounds   int
	Figures  []Figure
	GeoMean  float64 `json:"geomean"`
	Min, Max float64
}

// Figure is one figure's medians and their ratio B/A.
type Figure struct {
	Name  string
	A, B  float64
	Ratio float64
}

// run runs cmd and returns the figures of the JSON it prints on stdout.
func run(cmd string) (map[string]float64, error) {
	var out, errb bytes.Buffer
	c := exec.Command("sh", "-c", cmd)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, lastLines(errb.String(), 5))
	}
	return figures(out.Bytes())
}

// figures extracts the figures of a JSON object (see the package doc).
func figures(b []byte) (map[string]float64, error) {
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(b), &m); err != nil {
		return nil, fmt.Errorf("stdout is not one JSON object: %w", err)
	}
	figs := map[string]float64{}
	for k, v := range m {
		if f, ok := v.(float64); ok && k != "batch" && k != "threads" && k != "gomaxprocs" {
			figs[k] = f
		}
	}
	ks, _ := m["kernels"].([]any)
	for _, e := range ks {
		k, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("a kernels entry is not an object: %v", e)
		}
		var name []string
		for _, f := range []string{"net", "layer", "op", "batch", "threads"} {
			name = append(name, fmt.Sprint(k[f]))
		}
		g, ok := k["gflops"].(float64)
		if !ok {
			return nil, fmt.Errorf("kernels entry %s has no gflops", strings.Join(name, "/"))
		}
		figs[strings.Join(name, "/")] = g
	}
	if len(figs) == 0 {
		return nil, fmt.Errorf("no figures in %s", lastLines(string(b), 3))
	}
	return figs, nil
}

func compare(a, b []map[string]float64) (*Report, error) {
	rep := &Report{Min: math.Inf(1), Max: math.Inf(-1)}
	var names []string
	for k := range a[0] {
		names = append(names, k)
	}
	sort.Strings(names)
	logSum := 0.0
	for _, k := range names {
		med := func(runs []map[string]float64, side string) (float64, error) {
			var v []float64
			for i, r := range runs {
				x, ok := r[k]
				if !ok {
					return 0, fmt.Errorf("run %d of %s has no figure %s", i+1, side, k)
				}
				v = append(v, x)
			}
			slices.Sort(v)
			if len(v)%2 == 1 {
				return v[len(v)/2], nil
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2, nil
		}
		ma, err := med(a, "A")
		if err != nil {
			return nil, err
		}
		mb, err := med(b, "B")
		if err != nil {
			return nil, err
		}
		if !(ma > 0) || !(mb > 0) {
			return nil, fmt.Errorf("figure %s: medians %v and %v, want positive", k, ma, mb)
		}
		r := mb / ma
		rep.Figures = append(rep.Figures, Figure{Name: k, A: ma, B: mb, Ratio: r})
		logSum += math.Log(r)
		rep.Min, rep.Max = min(rep.Min, r), max(rep.Max, r)
	}
	for k := range b[0] {
		if _, ok := a[0][k]; !ok {
			return nil, fmt.Errorf("B prints figure %s, A does not", k)
		}
	}
	rep.GeoMean = math.Exp(logSum / float64(len(names)))
	return rep, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
