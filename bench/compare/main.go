// Command compare times the same ResNet-20 (CIFAR) work at the same batch
// and thread count in netc and in PyTorch, and writes the speed ratios.
//
//	go run ./bench/compare [--threads 1,2] [--batch 128] [--rounds 2] [--time 2s]
//	    [--netc CMD] [--python /usr/bin/python3] [--out bench/compare.json]
//
// Run it from the repository root (make bench-compare does). For each
// thread count it alternates runs of the two sides (netc, pytorch, netc,
// pytorch, ... for --rounds rounds), keeps each side's best images/s per
// workload, prints a table per thread count, and writes --out as
//
//	{"1": {"inference": R, "train_step": R, "attack_step": R, "adv_train_step_pgd10": R}, ...}
//
// with R = netc images/s / PyTorch images/s, keyed by thread count.
//
// The netc side is `CMD bench --batch B --threads T --time D --json`, which
// must print one JSON line with model, batch, threads, isa and the four
// workloads in images/s; without --netc it is built from
// ./generated/resnet20cifar/cmd/resnet20cifar. The PyTorch side is
// `PYTHON bench/compare.py --batch B --threads T --time SECONDS`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Workloads are the measured workloads, in report order.
var Workloads = []string{"inference", "train_step", "attack_step", "adv_train_step_pgd10"}

const (
	model       = "resnet20cifar"
	netcPkg     = "./generated/resnet20cifar/cmd/resnet20cifar"
	torchScript = "bench/compare.py"
)

// Result is one run of one side: images/s per workload.
type Result struct {
	Side    string // "netc" or "pytorch"
	Info    string // isa (netc) or version (pytorch)
	Batch   int
	Threads int
	Rate    map[string]float64
}

// ParseResult parses one side's stdout strictly: exactly one JSON object
// (blank lines aside) with every required key, the model, batch and
// thread count asked for, and a positive finite images/s per workload.
func ParseResult(side string, stdout []byte, batch, threads int) (*Result, error) {
	var lines []string
	for _, l := range strings.Split(string(stdout), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) != 1 {
		return nil, fmt.Errorf("%s: want one JSON line on stdout, got %d lines:\n%s", side, len(lines), tail(stdout, 20))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		return nil, fmt.Errorf("%s: stdout is not a JSON object: %w: %s", side, err, clip(lines[0], 300))
	}
	infoKey := "isa"
	keys := []string{"model", "batch", "threads", "isa"}
	if side == "pytorch" {
		infoKey = "version"
		keys = []string{"impl", "version", "model", "batch", "threads"}
	}
	keys = append(keys, Workloads...)
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("%s: JSON has no %q key: %s", side, k, clip(lines[0], 300))
		}
	}
	str := func(k string) (string, error) {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil {
			return "", fmt.Errorf("%s: %q is not a string: %s", side, k, m[k])
		}
		return s, nil
	}
	num := func(k string) (float64, error) {
		var f float64
		if err := json.Unmarshal(m[k], &f); err != nil {
			return 0, fmt.Errorf("%s: %q is not a number: %s", side, k, m[k])
		}
		return f, nil
	}
	r := &Result{Side: side, Rate: map[string]float64{}}
	var err error
	if side == "pytorch" {
		impl, err := str("impl")
		if err != nil {
			return nil, err
		}
		if impl != "pytorch" {
			return nil, fmt.Errorf("%s: impl is %q, want \"pytorch\"", side, impl)
		}
	}
	if r.Info, err = str(infoKey); err != nil {
		return nil, err
	}
	mod, err := str("model")
	if err != nil {
		return nil, err
	}
	if mod != model {
		return nil, fmt.Errorf("%s: model is %q, want %q", side, mod, model)
	}
	for _, c := range []struct {
		key  string
		dst  *int
		want int
	}{{"batch", &r.Batch, batch}, {"threads", &r.Threads, threads}} {
		f, err := num(c.key)
		if err != nil {
			return nil, err
		}
		if f != float64(c.want) {
			return nil, fmt.Errorf("%s: %s is %v, want %d", side, c.key, f, c.want)
		}
		*c.dst = c.want
	}
	for _, w := range Workloads {
		f, err := num(w)
		if err != nil {
			return nil, err
		}
		if !(f > 0) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: %s is %v images/s, want a positive number", side, w, f)
		}
		r.Rate[w] = f
	}
	return r, nil
}

// Best keeps, per workload, the highest images/s over rounds.
func Best(rs []*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	b := &Result{Side: rs[0].Side, Info: rs[0].Info, Batch: rs[0].Batch, Threads: rs[0].Threads, Rate: map[string]float64{}}
	for _, r := range rs {
		for w, f := range r.Rate {
			if f > b.Rate[w] {
				b.Rate[w] = f
			}
		}
	}
	return b
}

// Ratios are netc / PyTorch images/s per workload.
func Ratios(netc, torch *Result) map[string]float64 {
	q := map[string]float64{}
	for _, w := range Workloads {
		q[w] = netc.Rate[w] / torch.Rate[w]
	}
	return q
}

// Table writes the comparison of one thread count.
func Table(w io.Writer, threads int, netc, torch *Result) {
	fmt.Fprintf(w, "ResNet-20 (CIFAR), batch %d, %d thread(s): netc (%s) vs PyTorch %s, images/s (best of rounds)\n",
		netc.Batch, threads, netc.Info, torch.Info)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	wid := 0
	for _, wl := range Workloads {
		wid = max(wid, len(wl))
	}
	fmt.Fprintf(tw, "%-*s\tnetc\tpytorch\tnetc/pytorch\t\n", wid, "workload")
	q := Ratios(netc, torch)
	for _, wl := range Workloads {
		fmt.Fprintf(tw, "%-*s\t%.1f\t%.1f\t%.2fx\t\n", wid, wl, netc.Rate[wl], torch.Rate[wl], q[wl])
	}
	tw.Flush()
}

// ThreadRatios is the ratios of one thread count.
type ThreadRatios struct {
	Threads int
	Ratio   map[string]float64
}

// EncodeRatios renders the --out file: thread counts in the given order,
// workloads in report order, ratios to 2 decimals.
func EncodeRatios(all []ThreadRatios) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i, tr := range all {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  %q: {", strconv.Itoa(tr.Threads))
		for j, w := range Workloads {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "\n    %q: %s", w, strconv.FormatFloat(math.Round(tr.Ratio[w]*100)/100, 'f', 2, 64))
		}
		b.WriteString("\n  }")
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// WriteAtomic writes data to path through a temporary file in the same
// folder and a rename.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ParseThreads parses a comma-separated list of positive thread counts.
func ParseThreads(s string) ([]int, error) {
	var ts []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--threads: %q is not a positive integer", f)
		}
		if !seen[n] {
			seen[n] = true
			ts = append(ts, n)
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("--threads: no thread counts")
	}
	return ts, nil
}

func tail(b []byte, lines int) string {
	s := strings.TrimRight(string(b), "\n")
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = append([]string{"..."}, ls[len(ls)-lines:]...)
	}
	return "\t" + strings.Join(ls, "\n\t")
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

type config struct {
	threads []int
	batch   int
	rounds  int
	dur     time.Duration
	netc    []string
	python  string
	out     string
	timeout time.Duration
}

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		os.Exit(1)
	}
}

func mainErr() error {
	log := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "compare: "+format+"\n", a...) }
	var c config
	threads := flag.String("threads", "1,2", "comma-separated thread counts")
	flag.IntVar(&c.batch, "batch", 128, "batch size")
	flag.IntVar(&c.rounds, "rounds", 2, "alternating rounds per side; the best images/s is kept")
	flag.DurationVar(&c.dur, "time", 2*time.Second, "measuring time per workload and run (after a warm-up iteration)")
	netcCmd := flag.String("netc", "", "netc model command, split on spaces (default: build "+netcPkg+")")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "python with PyTorch")
	flag.StringVar(&c.out, "out", "bench/compare.json", "ratios file (netc/pytorch images/s by thread count)")
	flag.DurationVar(&c.timeout, "timeout", 15*time.Minute, "limit on one run of one side")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./bench/compare [flags]  (from the repository root)\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	if c.threads, err = ParseThreads(*threads); err != nil {
		return err
	}
	if c.batch < 1 || c.rounds < 1 || c.dur <= 0 {
		return errors.New("--batch and --rounds must be >= 1 and --time > 0")
	}
	for _, t := range c.threads {
		if t > runtime.NumCPU() {
			log("warning: %d threads on %d CPUs", t, runtime.NumCPU())
		}
	}

	// PyTorch first: it fails fast and needs no build.
	if _, err := os.Stat(torchScript); err != nil {
		return fmt.Errorf("%s not found: run from the repository root", torchScript)
	}
	if out, err := exec.Command(c.python, "-c", "import torch").CombinedOutput(); err != nil {
		return fmt.Errorf("%s cannot import torch (%w): run `make torch` to install Debian's python3-torch\n%s", c.python, err, tail(out, 5))
	}

	if *netcCmd != "" {
		c.netc = strings.Fields(*netcCmd)
	} else {
		dir, err := os.MkdirTemp("", "netc-compare")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, model)
		log("building %s", netcPkg)
		out, err := exec.Command("go", "build", "-o", bin, netcPkg).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build %s: %w (generate the ResNet-20 model first, or pass --netc CMD)\n%s", netcPkg, err, tail(out, 30))
		}
		c.netc = []string{bin}
	}

	return run(c, os.Stdout, log)
}

func run(c config, stdout io.Writer, log func(string, ...any)) error {
	secs := strconv.FormatFloat(c.dur.Seconds(), 'g', -1, 64)
	var all []ThreadRatios
	for ti, t := range c.threads {
		args := []string{"bench", "--batch", strconv.Itoa(c.batch), "--threads", strconv.Itoa(t), "--time", c.dur.String(), "--json"}
		netcArgv := append(append([]string{}, c.netc...), args...)
		torchArgv := []string{c.python, torchScript, "--batch", strconv.Itoa(c.batch), "--threads", strconv.Itoa(t), "--time", secs}
		var nr, pr []*Result
		for round := 1; round <= c.rounds; round++ {
			for _, side := range []string{"netc", "pytorch"} {
				argv := netcArgv
				if side == "pytorch" {
					argv = torchArgv
				}
				log("%d thread(s), round %d/%d: %s", t, round, c.rounds, side)
				start := time.Now()
				r, err := runSide(side, argv, t, c.batch, c.timeout)
				if err != nil {
					return err
				}
				log("  %s in %.1fs: %s", side, time.Since(start).Seconds(), rates(r))
				if side == "netc" {
					nr = append(nr, r)
				} else {
					pr = append(pr, r)
				}
			}
		}
		bn, bp := Best(nr), Best(pr)
		if ti > 0 {
			fmt.Fprintln(stdout)
		}
		Table(stdout, t, bn, bp)
		all = append(all, ThreadRatios{Threads: t, Ratio: Ratios(bn, bp)})
	}
	if err := WriteAtomic(c.out, EncodeRatios(all)); err != nil {
		return fmt.Errorf("writing %s: %w", c.out, err)
	}
	log("wrote %s", c.out)
	return nil
}

func rates(r *Result) string {
	var s []string
	for _, w := range Workloads {
		s = append(s, fmt.Sprintf("%s %.1f", w, r.Rate[w]))
	}
	return strings.Join(s, ", ") + " images/s"
}

// runSide runs one side once and parses its result; on failure the error
// carries the command's stderr.
func runSide(side string, argv []string, threads, batch int, timeout time.Duration) (*Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if side == "pytorch" {
		// torch.set_num_threads does the work; these keep OpenMP/MKL pools in line.
		t := strconv.Itoa(threads)
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+t, "MKL_NUM_THREADS="+t)
	}
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("%s: `%s` took longer than %v (--timeout)\nstderr:\n%s", side, strings.Join(argv, " "), timeout, tail(se.Bytes(), 40))
	}
	if err != nil {
		hint := ""
		if side == "pytorch" && bytes.Contains(se.Bytes(), []byte("make torch")) {
			hint = " (run `make torch`)"
		}
		return nil, fmt.Errorf("%s: `%s` failed: %w%s\nstderr:\n%s", side, strings.Join(argv, " "), err, hint, tail(se.Bytes(), 40))
	}
	r, err := ParseResult(side, so.Bytes(), batch, threads)
	if err != nil {
		if se.Len() > 0 {
			err = fmt.Errorf("%w\nstderr of `%s`:\n%s", err, strings.Join(argv, " "), tail(se.Bytes(), 20))
		}
		return nil, err
	}
	return r, nil
}
