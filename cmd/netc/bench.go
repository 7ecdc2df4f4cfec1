package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

// benchKernel is one line of `netc bench kernels --json`.
type benchKernel struct {
	Net          string  `json:"net"`
	Layer        string  `json:"layer"`
	Op           string  `json:"op"` // fwd, bwd_data, bwd_weight
	KH           int     `json:"kh"`
	KW           int     `json:"kw"`
	Stride       int     `json:"stride"`
	Cin          int     `json:"cin"`
	Cout         int     `json:"cout"`
	H            int     `json:"h"`
	W            int     `json:"w"`
	Batch        int     `json:"batch"`
	Threads      int     `json:"threads"`
	ISA          string  `json:"isa"`
	GFLOPS       float64 `json:"gflops"`
	PeakFraction float64 `json:"peak_fraction"`
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	batch := fs.Int("batch", 8, "batch size of the conv benchmarks")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "kernels" {
		return badf("bench: want 'kernels'")
	}
	isa, err := kernels.Select()
	if err != nil {
		return bad(err)
	}
	threads := goruntime.GOMAXPROCS(0)
	peak := map[string]float64{}
	for _, t := range []int{1, threads} {
		peak[strconv.Itoa(t)] = kernels.FMAPeak(isa, t, 300*time.Millisecond)
	}
	if !*asJSON {
		fmt.Fprintf(os.Stderr, "FMA peak (%s): %.1f GFLOP/s on 1 thread, %.1f on %d\n", isa, peak["1"], peak[strconv.Itoa(threads)], threads)
		fmt.Fprintf(os.Stderr, "reference convolutions (runtime/ref, pure Go, %d threads), batch %d:\n", threads, *batch)
	}
	var rows []benchKernel
	for _, name := range []string{"resnet20-cifar.spec", "resnet50.spec"} {
		src, _ := specs.FS.ReadFile(name)
		s, err := spec.Parse(name, src)
		if err != nil {
			return err
		}
		g, err := compiler.Lower(s)
		if err != nil {
			return err
		}
		seen := map[ref.Conv]bool{}
		for _, nd := range g.Nodes {
			if nd.Op != compiler.Conv {
				continue
			}
			in := nd.In[0]
			c := ref.Conv{N: *batch, C: in.C, H: in.H, W: in.W, K: nd.C, R: nd.Kernel, S: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad}
			if seen[c] {
				continue
			}
			seen[c] = true
			x := make([]float32, c.N*c.C*c.H*c.W)
			w := make([]float32, c.K*c.C*c.R*c.S)
			y := make([]float32, c.N*c.K*c.P()*c.Q())
			for _, op := range []struct {
				name string
				run  func()
			}{
				{"fwd", func() { ref.Conv2D(c, x, w, y) }},
				{"bwd_data", func() { ref.Conv2DBackwardData(c, y, w, x) }},
				{"bwd_weight", func() { ref.Conv2DBackwardWeight(c, x, y, w) }},
			} {
				gf := float64(c.FLOPs()) / timeIt(op.run) / 1e9
				r := benchKernel{Net: s.Model, Layer: nd.Name, Op: op.name, KH: c.R, KW: c.S, Stride: c.Stride,
					Cin: c.C, Cout: c.K, H: c.H, W: c.W, Batch: c.N, Threads: threads, ISA: "ref",
					GFLOPS: gf, PeakFraction: gf / peak[strconv.Itoa(threads)]}
				rows = append(rows, r)
				if !*asJSON {
					fmt.Fprintf(os.Stderr, "  %-14s %-24s %-10s %dx%d/%d %4d->%-4d %3dx%-3d %7.2f GFLOP/s %5.1f%% of peak\n",
						r.Net, r.Layer, r.Op, r.KH, r.KW, r.Stride, r.Cin, r.Cout, r.H, r.W, r.GFLOPS, 100*r.PeakFraction)
				}
			}
		}
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"isa": isa, "peak_gflops": peak, "kernels": rows})
	}
	return nil
}

// timeIt returns the seconds one call of f takes: the best of a few runs
// lasting at least 50ms in all.
func timeIt(f func()) float64 {
	f() // warm up buffers and caches
	best := 0.0
	for total, runs := 0.0, 0; total < 0.05 || runs < 2; runs++ {
		start := time.Now()
		f()
		el := time.Since(start).Seconds()
		total += el
		if best == 0 || el < best {
			best = el
		}
	}
	return best
}
