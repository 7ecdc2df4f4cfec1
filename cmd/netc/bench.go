package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"github.com/netc/netc/runtime/cli"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netc/netc/compiler"
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
	Kernels    []benchKernel      `json:"kernels"`
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
		return viaBinary("bench", args[1:], func(f cli.Factory, a []string) error { return cli.Bench(f, nil, a) })
	}
	procs := goruntime.GOMAXPROCS(0)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	batchList := fs.String("batch", "8,32", "comma-separated batch sizes")
	threadList := fs.String("threads", fmt.Sprintf("1,%d", procs), "comma-separated thread counts (1 up to GOMAXPROCS)")
	netName := fs.String("net", "all", "network: resnet50, resnet20 or all")
	opList := fs.String("op", strings.Join(benchOps, ","), "comma-separated kernels: fwd, bwd_data, bwd_weight")
	layerSub := fs.String("layer", "", "only layers whose name contains this")
	minTime := fs.Duration("time", 200*time.Millisecond, "least time to repeat each measurement for")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: netc bench kernels [flags]\n\nThis CPU's FMA peak, then GFLOP/s and fraction of peak of the direct conv kernels\non every distinct conv shape of ResNet-50 and ResNet-20.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "kernels" {
		return badf("bench: want 'kernels' or 'model SPEC'")
	}
	batches, err := positiveInts("--batch", *batchList, 1<<20)
	if err != nil {
		return err
	}
	threads, err := positiveInts("--threads", *threadList, procs)
	if err != nil {
		return err
	}
	var ops []string
	for _, op := range strings.Split(*opList, ",") {
		op = strings.TrimSpace(op)
		if !slices.Contains(benchOps, op) {
			return badf("bench: --op %q: want a comma-separated list of %s", op, strings.Join(benchOps, ", "))
		}
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	if *minTime < 0 {
		return badf("bench: --time %v is negative", *minTime)
	}
	if *netName != "all" && !slices.ContainsFunc(benchNets, func(n struct{ name, spec string }) bool { return n.name == *netName }) {
		return badf("bench: --net %q: want resnet50, resnet20 or all", *netName)
	}
	shapes, err := benchShapes(*netName, *layerSub)
	if err != nil {
		return err
	}
	if len(shapes) == 0 {
		return badf("bench: no conv layer of --net %s has a name containing --layer %q", *netName, *layerSub)
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
		rep.Peak[key] = kernels.FMAPeak(isa, t, 300*time.Millisecond)
		line := fmt.Sprintf("FMA peak (%s): %.1f GFLOP/s on %d thread(s)", isa, rep.Peak[key], t)
		if *asJSON {
			fmt.Fprintln(os.Stderr, "bench:", line)
		} else {
			fmt.Println(line)
		}
	}
	if !*asJSON {
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
					calls, secs, err := timeCalls(f, t, *minTime)
					if err != nil {
						return err
					}
					gf := float64(c.FLOPs()) * float64(calls) / secs / 1e9
					r := benchKernel{Net: sh.net, Layer: sh.layers[0], Also: sh.layers[1:], Op: op,
						KH: c.R, KW: c.S, Stride: c.Stride, Pad: c.Pad, Cin: c.C, Cout: c.K, H: c.H, W: c.W,
						Batch: n, Threads: t, ISA: string(isa), FLOPs: c.FLOPs(), Calls: calls, Seconds: secs,
						GFLOPS: gf, PeakFraction: gf / rep.Peak[strconv.Itoa(t)]}
					rep.Kernels = append(rep.Kernels, r)
					if !*asJSON {
						shape := fmt.Sprintf("%dx%d/%d %d->%d %dx%d", r.KH, r.KW, r.Stride, r.Cin, r.Cout, r.H, r.W)
						fmt.Printf("%-9s %-24s %-26s %-10s %5d %7d %9.1f %6.1f%%\n",
							r.Net, r.Layer, shape, r.Op, r.Batch, r.Threads, r.GFLOPS, 100*r.PeakFraction)
					}
				}
			}
		}
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(rep)
	}
	return nil
}

// positiveInts parses a comma-separated list of distinct numbers in
// [1, most] for flag name, dropping repeats.
func positiveInts(name, s string, most int) ([]int, error) {
	vs, err := ints(s)
	if err != nil {
		return nil, badf("bench: %s: %v", name, err)
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
