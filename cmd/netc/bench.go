package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

// `netc bench kernels` measures this CPU's FMA peak (kernels.FMAPeak) on
// one thread and on all of them, then the speed of the direct NCHW16c
// convolutions of package runtime/kernels (forward, data gradient, weight
// gradient) on every distinct conv shape of ResNet-50 (ImageNet, 224×224)
// and ResNet-20 (CIFAR, 32×32), per batch size and thread count, as
// GFLOP/s (ref.Conv.FLOPs per call) and as a fraction of the peak of the
// same thread count.

// benchNets are the networks benchmarked, by --net name, and their specs.
var benchNets = []struct{ name, spec string }{
	{"resnet50", "resnet50.spec"},
	{"resnet20", "resnet20-cifar.spec"},
}

// benchOps are the convolution kernels benchmarked, by --op name.
var benchOps = []string{"fwd", "bwd_data", "bwd_weight"}

// benchKernel is one line of `netc bench kernels --json`.
type benchKernel struct {
	Net          string   `json:"net"`
	Layer        string   `json:"layer"`          // the first layer with this shape
	Also         []string `json:"also,omitempty"` // the other layers with this shape
	Op           string   `json:"op"`             // fwd, bwd_data, bwd_weight
	KH           int      `json:"kh"`
	KW           int      `json:"kw"`
	Stride       int      `json:"stride"`
	Pad          int      `json:"pad"`
	Cin          int      `json:"cin"`
	Cout         int      `json:"cout"`
	H            int      `json:"h"` // input height and width
	W            int      `json:"w"`
	Batch        int      `json:"batch"`
	Threads      int      `json:"threads"`
	ISA          string   `json:"isa"`
	FLOPs        int      `json:"flops"`   // per call
	Calls        int      `json:"calls"`   // timed calls, after one warm-up
	Seconds      float64  `json:"seconds"` // of all timed calls
	GFLOPS       float64  `json:"gflops"`
	PeakFraction float64  `json:"peak_fraction"`
}

// benchReport is the output of `netc bench kernels --json`.
type benchReport struct {
	ISA        string             `json:"isa"`
	GOMAXPROCS int                `json:"gomaxprocs"`
	Peak       map[string]float64 `json:"peak_gflops"` // by thread count
	// BF16Peak is the VDPBF16PS peak by thread count, where the ISA has
	// bf16 kernels this CPU runs (AVX512_BF16).
	BF16Peak map[string]float64 `json:"bf16_peak_gflops,omitempty"`
	Kernels  []benchKernel      `json:"kernels"`
	Warnings []string           `json:"warnings"` // what makes the figures suspect (benchWarnings)
}

// peakTrials is how many times the FMA peak of a thread count is
// measured; the best counts, as the least disturbed by other work.
const peakTrials = 3

// benchWarnings returns what makes the figures of rep suspect: a peak
// that falls with more threads (the machine was busy, or its threads
// share cores), and kernels measured faster than the peak of their
// thread count (the peak was measured low: noise).
func benchWarnings(rep benchReport) []string {
	var warnings []string
	var threads []int
	for key := range rep.Peak {
		if t, err := strconv.Atoi(key); err == nil {
			threads = append(threads, t)
		}
	}
	slices.Sort(threads)
	for i, t := range threads {
		for _, fewer := range threads[:i] {
			if p, q := rep.Peak[strconv.Itoa(t)], rep.Peak[strconv.Itoa(fewer)]; p < q {
				warnings = append(warnings, fmt.Sprintf("the FMA peak on %d threads (%.1f GFLOP/s) is below that on %d (%.1f GFLOP/s): other work was running, or the threads share cores; rerun on an idle machine", t, p, fewer, q))
				break
			}
		}
	}
	over, worst := 0, -1
	for i, k := range rep.Kernels {
		if k.PeakFraction > 1 {
			over++
			if worst < 0 || k.PeakFraction > rep.Kernels[worst].PeakFraction {
				worst = i
			}
		}
	}
	if over > 0 {
		k := rep.Kernels[worst]
		warnings = append(warnings, fmt.Sprintf("%d of %d figures exceed 100%% of the measured peak of their thread count (up to %.1f%%: %s %s %s, batch %d, %d thread(s)): the peak measurement was disturbed; rerun", over, len(rep.Kernels), 100*k.PeakFraction, k.Net, k.Layer, k.Op, k.Batch, k.Threads))
	}
	return warnings
}

// benchShape is a distinct conv shape of a network (batch left out) and
// the layers that have it, in execution order.
type benchShape struct {
	net    string
	conv   ref.Conv
	layers []string
}

func runBench(args []string) error {
	if len(args) > 0 && args[0] == "model" {
		return inProcess(models.Bench)(args[1:])
	}
	fs, o := benchKernelsFlags()
	fs.Usage = func() { benchUsage(fs.Output()) }
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "kernels" {
		return badf("bench: want 'kernels' or 'model SPEC'")
	}
	procs := runtime.GOMAXPROCS(0)
	batches, err := positiveInts("--batch", o.batches, 1<<20)
	if err != nil {
		return err
	}
	threads, err := positiveInts("--threads", o.threads, procs)
	if err != nil {
		return err
	}
	var ops []string
	for _, op := range strings.Split(o.ops, ",") {
		op = strings.TrimSpace(op)
		if !slices.Contains(benchOps, op) {
			return badf("bench: --op %q: want a comma-separated list of %s", op, strings.Join(benchOps, ", "))
		}
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	if o.minTime < 0 {
		return badf("bench: --time %v is negative", o.minTime)
	}
	if o.net != "all" && !slices.ContainsFunc(benchNets, func(n struct{ name, spec string }) bool { return n.name == o.net }) {
		return badf("bench: --net %q: want resnet50, resnet20 or all", o.net)
	}
	shapes, err := benchShapes(o.net, o.layer)
	if err != nil {
		return err
	}
	if len(shapes) == 0 {
		return badf("bench: no conv layer of --net %s has a name containing --layer %q", o.net, o.layer)
	}
	isa, err := kernels.Select()
	if err != nil {
		return bad(err)
	}

	// The peak of 1 thread, all threads and every thread count asked for.
	peakThreads := []int{1, procs}
	for _, t := range threads {
		if !slices.Contains(peakThreads, t) {
			peakThreads = append(peakThreads, t)
		}
	}
	rep := benchReport{ISA: string(isa), GOMAXPROCS: procs, Peak: map[string]float64{}, Kernels: []benchKernel{}}
	for _, t := range peakThreads {
		key := strconv.Itoa(t)
		if _, ok := rep.Peak[key]; ok {
			continue
		}
		for range peakTrials {
			rep.Peak[key] = max(rep.Peak[key], kernels.FMAPeak(isa, t, 100*time.Millisecond))
		}
		lines := []string{fmt.Sprintf("FMA peak (%s): %.1f GFLOP/s on %d thread(s)", isa, rep.Peak[key], t)}
		if isa.HasBF16() {
			if rep.BF16Peak == nil {
				rep.BF16Peak = map[string]float64{}
			}
			for range peakTrials {
				rep.BF16Peak[key] = max(rep.BF16Peak[key], kernels.BF16Peak(isa, t, 100*time.Millisecond))
			}
			lines = append(lines, fmt.Sprintf("bf16 peak (VDPBF16PS, %s): %.1f GFLOP/s on %d thread(s), %.2fx the FMA peak", isa, rep.BF16Peak[key], t, rep.BF16Peak[key]/rep.Peak[key]))
		}
		for _, line := range lines {
			if o.asJSON {
				fmt.Fprintln(os.Stderr, "bench:", line)
			} else {
				fmt.Println(line)
			}
		}
	}
	if !o.asJSON {
		fmt.Printf("\ndirect NCHW16c convolutions (runtime/kernels, %s); %% peak is of the same thread count\n", isa)
		fmt.Printf("%-9s %-24s %-26s %-10s %5s %7s %9s %7s\n", "net", "layer", "shape", "op", "batch", "threads", "GFLOP/s", "% peak")
	}

	rng := rand.New(rand.NewPCG(1, 2))
	step, steps := 0, len(shapes)*len(batches)
	for _, sh := range shapes {
		for _, n := range batches {
			step++
			c := sh.conv
			c.N = n
			fmt.Fprintf(os.Stderr, "bench: [%d/%d] %s %s (%s) batch %d\n", step, steps, sh.net, sh.layers[0], c, n)
			xLen, wLen, yLen := c.N*c.C*c.H*c.W, kernels.WeightsLen(c), c.N*c.K*c.P()*c.Q()
			x, w, dy := normals(rng, xLen), normals(rng, wLen), normals(rng, yLen)
			y, dx, dw := make([]float32, yLen), make([]float32, xLen), make([]float32, wLen)
			for _, op := range ops {
				var f func()
				switch op {
				case "fwd":
					f = func() { kernels.ConvForward(isa, c, x, w, y, kernels.Epilogue{}) }
				case "bwd_data":
					f = func() { kernels.ConvBackwardData(isa, c, dy, w, dx) }
				case "bwd_weight":
					f = func() { kernels.ConvBackwardWeight(isa, c, x, dy, dw) }
				}
				for _, t := range threads {
					calls, secs, err := timeCalls(f, t, o.minTime)
					if err != nil {
						return err
					}
					gf := float64(c.FLOPs()) * float64(calls) / secs / 1e9
					r := benchKernel{Net: sh.net, Layer: sh.layers[0], Also: sh.layers[1:], Op: op,
						KH: c.R, KW: c.S, Stride: c.Stride, Pad: c.Pad, Cin: c.C, Cout: c.K, H: c.H, W: c.W,
						Batch: n, Threads: t, ISA: string(isa), FLOPs: c.FLOPs(), Calls: calls, Seconds: secs,
						GFLOPS: gf, PeakFraction: gf / rep.Peak[strconv.Itoa(t)]}
					rep.Kernels = append(rep.Kernels, r)
					if !o.asJSON {
						shape := fmt.Sprintf("%dx%d/%d %d->%d %dx%d", r.KH, r.KW, r.Stride, r.Cin, r.Cout, r.H, r.W)
						fmt.Printf("%-9s %-24s %-26s %-10s %5d %7d %9.1f %6.1f%%\n",
							r.Net, r.Layer, shape, r.Op, r.Batch, r.Threads, r.GFLOPS, 100*r.PeakFraction)
					}
				}
			}
		}
	}
	rep.Warnings = benchWarnings(rep)
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(os.Stderr, "bench: warning:", w)
	}
	if o.asJSON {
		return json.NewEncoder(os.Stdout).Encode(rep)
	}
	return nil
}

// benchKernelsOptions are the settings of `netc bench kernels`.
type benchKernelsOptions struct {
	asJSON                            bool
	batches, threads, net, ops, layer string
	minTime                           time.Duration
}

// benchKernelsFlags is the flag set of `netc bench kernels`.
func benchKernelsFlags() (*flag.FlagSet, *benchKernelsOptions) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &benchKernelsOptions{}
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object on stdout, with a warnings field")
	fs.StringVar(&o.batches, "batch", "8,32", "comma-separated batch sizes")
	fs.StringVar(&o.threads, "threads", fmt.Sprintf("1,%d", runtime.GOMAXPROCS(0)), "comma-separated thread counts (1 up to GOMAXPROCS)")
	fs.StringVar(&o.net, "net", "all", "network: resnet50, resnet20 or all")
	fs.StringVar(&o.ops, "op", strings.Join(benchOps, ","), "comma-separated kernels: fwd, bwd_data, bwd_weight")
	fs.StringVar(&o.layer, "layer", "", "only layers whose name contains this")
	fs.DurationVar(&o.minTime, "time", 200*time.Millisecond, "least time to repeat each measurement for")
	return fs, o
}

// benchUsage is the help of `netc bench`: both subcommands and their
// flags.
func benchUsage(w io.Writer) {
	fmt.Fprint(w, `netc bench has two subcommands: kernels and model.

usage: netc bench kernels [flags]

Measures this CPU's FMA peak (best of 3 runs, on 1 thread and on GOMAXPROCS
threads), then the GFLOP/s of the direct NCHW16c conv kernels (forward, data
and weight gradients) on every distinct conv shape of ResNet-50 and
ResNet-20, as a fraction of the peak of the same thread count: a table on
stdout, progress on stderr. It warns (on stderr, and in --json's warnings)
when a figure exceeds 100% of the peak or a peak falls with more threads:
a disturbed measurement, to rerun. NETC_ISA=avx512|avx2|generic picks the
kernels.

Flags:
`)
	fs, _ := benchKernelsFlags()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w)
	cli.BenchUsage(w, "netc bench model SPEC")
	printInterpFlag(w)
}

// positiveInts parses a comma-separated list of distinct numbers in
// [1, most] for flag name, dropping repeats.
func positiveInts(name, s string, most int) ([]int, error) {
	vs, err := ints(s)
	if err != nil {
		return nil, badf("bench: %s: %w", name, err)
	}
	var out []int
	for _, v := range vs {
		if v < 1 || v > most {
			return nil, badf("bench: %s %d: want 1 to %d", name, v, most)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// benchShapes lists the distinct conv shapes of the networks net names
// ("all" for every one), from their compiled graphs, counting only layers
// whose name contains layer.
func benchShapes(net, layer string) ([]benchShape, error) {
	var shapes []benchShape
	for _, bn := range benchNets {
		if net != "all" && net != bn.name {
			continue
		}
		src, err := specs.FS.ReadFile(bn.spec)
		if err != nil {
			return nil, err
		}
		s, err := spec.Parse(bn.spec, src)
		if err != nil {
			return nil, err
		}
		g, err := compiler.Lower(s)
		if err != nil {
			return nil, err
		}
		at := map[ref.Conv]int{} // index in shapes
		for _, nd := range g.Nodes {
			if nd.Op != compiler.Conv || !strings.Contains(nd.Name, layer) {
				continue
			}
			in := nd.In[0]
			c := ref.Conv{C: in.C, H: in.H, W: in.W, K: nd.C, R: nd.Kernel, S: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad}
			if i, ok := at[c]; ok {
				shapes[i].layers = append(shapes[i].layers, nd.Name)
				continue
			}
			at[c] = len(shapes)
			shapes = append(shapes, benchShape{net: bn.name, conv: c, layers: []string{nd.Name}})
		}
	}
	return shapes, nil
}

// normals returns n standard normal values.
func normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// timeCalls runs f on threads kernel threads: once to warm up, then
// repeatedly for at least d and at least twice; it returns the timed
// calls and the seconds they took in all.
func timeCalls(f func(), threads int, d time.Duration) (calls int, secs float64, err error) {
	old := kernels.SetThreads(threads)
	defer kernels.SetThreads(old)
	if got := kernels.Threads(); got != threads {
		return 0, 0, fmt.Errorf("bench: the kernels run on at most %d threads, not %d", got, threads)
	}
	f()
	start := time.Now()
	for calls < 2 || time.Since(start) < d {
		f()
		calls++
	}
	return calls, time.Since(start).Seconds(), nil
}
