// Command killtest checks that a training run loses nothing when it is
// killed: it SIGKILLs `netc train` at random moments (seeded), many of
// them while a checkpoint is being written, resumes it each time, and
// compares the final checkpoint (every tensor bit for bit, optimizer
// included, and the state) and metrics.jsonl (the same epochs and
// values, timing aside) with those of an uninterrupted run.
//
// It builds netc, writes a small MNIST subset (real MNIST from the Go
// module cache, else synthetic digits) as IDX files, and trains the MNIST
// spec on the interpreter with a checkpoint after every step
// (--checkpoint-every 1ms). The runs are repeated, each from scratch,
// until -kills kills have landed. It uses no network and no sockets.
// It prints the counts (kills, kills during a checkpoint write, kills
// between an epoch's checkpoint and its metrics line, corrupt
// checkpoints found) and exits 1 on any corrupt checkpoint, failed
// resume or difference. Run it with `make killtest` (a minute or two on
// 2 cores).
//
// Usage:
//
//	go run ./internal/killtest [-kills 40] [-seed 1] [-epochs 3] [-images 512] [-keep]
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/netc/netc/runtime/ckpt"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/train"
)

func main() {
	kills := flag.Int("kills", 40, "SIGKILLs to land in all (>= 30 for the acceptance test)")
	seed := flag.Uint64("seed", 1, "seed of the kill moments")
	epochs := flag.Int("epochs", 3, "epochs of each run")
	images := flag.Int("images", 512, "training images (test images: 100)")
	keep := flag.Bool("keep", false, "keep the work folder")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	t := &test{rng: rand.New(rand.NewPCG(*seed, 0x6b696c6c)), deadline: time.Now().Add(*timeout)}
	err := t.run(*kills, *epochs, *images, *keep)
	fmt.Println(t.summary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "killtest: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("killtest: ok")
}

// test is one kill test and its counts.
type test struct {
	rng      *rand.Rand
	deadline time.Time
	netc     string   // the netc binary
	args     []string // the train command, but for --out
	env      []string

	rounds, starts, kills, duringSave, duringOther, metricsBehind, corrupt int
	firstSave                                                              time.Duration // time from start to the first checkpoint, uninterrupted
}

func (t *test) summary() string {
	return fmt.Sprintf("killtest: %d kills in %d runs (%d starts): %d during a checkpoint write, %d during another atomic write (config.json, metrics.jsonl), %d between an epoch's checkpoint and its metrics line; %d corrupt checkpoints",
		t.kills, t.rounds, t.starts, t.duringSave, t.duringOther, t.metricsBehind, t.corrupt)
}

func (t *test) run(kills, epochs, images int, keep bool) error {
	work, err := os.MkdirTemp("", "netc-killtest-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("killtest: work folder", work)
	} else {
		defer os.RemoveAll(work)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	t.netc = filepath.Join(work, "netc")
	build := exec.Command("go", "build", "-o", t.netc, "./cmd/netc")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building netc: %w\n%s", err, out)
	}
	src, err := writeData(filepath.Join(work, "data"), images, 100)
	if err != nil {
		return err
	}
	fmt.Printf("killtest: data %s; %d epochs of %d images, a checkpoint after every step\n", src, epochs, images)
	t.args = []string{"train", filepath.Join(root, "specs", "mnist-resnet.spec"), "--data", "mnist:" + filepath.Join(work, "data"),
		"--epochs", fmt.Sprint(epochs), "--batch", "32", "--attack-steps", "1", "--test-limit", "100", "--seed", "3", "--checkpoint-every", "1ms"}
	// The same thread count everywhere: training is bitwise repeatable for
	// a seed and a thread count.
	t.env = append(os.Environ(), "GOMAXPROCS=2")

	ref := filepath.Join(work, "uninterrupted")
	if err := t.uninterrupted(ref); err != nil {
		return err
	}
	for t.kills < kills {
		t.rounds++
		dir := filepath.Join(work, fmt.Sprintf("killed-%d", t.rounds))
		if err := t.killed(dir, kills); err != nil {
			return fmt.Errorf("run %d (%s): %w", t.rounds, dir, err)
		}
		if err := compare(ref, dir); err != nil {
			return fmt.Errorf("run %d (%s) against the uninterrupted run: %w", t.rounds, dir, err)
		}
		if !keep {
			os.RemoveAll(dir)
		}
	}
	return nil
}

// moduleRoot is the folder of netc's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run killtest inside netc's module (go env GOMOD: %q, %w)", mod, err)
	}
	return filepath.Dir(mod), nil
}

// writeData writes the first train and test images of MNIST (from the Go
// module cache only; synthetic digits if it is not there) as IDX files in
// dir, and says which.
func writeData(dir string, train, test int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	os.Setenv("GOPROXY", "off") // the module cache or nothing: no network
	src := "MNIST"
	load := func(split string, n int) *data.Dataset {
		d, err := data.Load("mnist", split)
		if err != nil || d.Len() < n {
			src = "synthetic digits (no MNIST in the Go module cache)"
			return data.Synthetic(n, 1, 28, 28, 10, uint64(n))
		}
		return d
	}
	for _, s := range []struct {
		split, prefix string
		n             int
	}{{"train", "train", train}, {"test", "t10k", test}} {
		d := load(s.split, s.n)
		size := d.C * d.H * d.W
		if err := writeIDX(filepath.Join(dir, s.prefix+"-images-idx3-ubyte"), []int{s.n, d.H, d.W}, d.Pixels[:s.n*size]); err != nil {
			return "", err
		}
		if err := writeIDX(filepath.Join(dir, s.prefix+"-labels-idx1-ubyte"), []int{s.n}, d.Labels[:s.n]); err != nil {
			return "", err
		}
	}
	return src, nil
}

// writeIDX writes an IDX file of unsigned bytes.
func writeIDX(path string, dims []int, b []byte) error {
	head := binary.BigEndian.AppendUint32(nil, uint32(0x0800|len(dims)))
	for _, d := range dims {
		head = binary.BigEndian.AppendUint32(head, uint32(d))
	}
	return os.WriteFile(path, append(head, b...), 0o644)
}

// start starts netc train on run folder dir, its output appended to
// dir.log.
func (t *test) start(dir string) (*exec.Cmd, <-chan error, error) {
	if time.Now().After(t.deadline) {
		return nil, nil, errors.New("out of time")
	}
	log, err := os.OpenFile(dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer log.Close()
	cmd := exec.Command(t.netc, append(slices.Clone(t.args), "--out", dir)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = t.env, log, log
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	t.starts++
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, done, nil
}

// uninterrupted trains the reference run in dir, timing its first
// checkpoint.
func (t *test) uninterrupted(dir string) error {
	begin := time.Now()
	_, done, err := t.start(dir)
	if err != nil {
		return err
	}
	for t.firstSave == 0 {
		select {
		case err := <-done:
			return t.exited(dir, err)
		case <-time.After(time.Millisecond):
		}
		if _, err := os.Stat(filepath.Join(dir, "checkpoints", "last.safetensors")); err == nil {
			t.firstSave = time.Since(begin)
		}
	}
	return t.exited(dir, <-done)
}

// exited reports a run that ended by itself: it must have succeeded.
func (t *test) exited(dir string, err error) error {
	if err != nil {
		log, _ := os.ReadFile(dir + ".log")
		return fmt.Errorf("netc train: %w; its output ends:\n%s", err, log[max(0, len(log)-3000):])
	}
	return nil
}

// killed trains a run in dir, SIGKILLing it until it finishes (or until
// the test has its kills, after which it runs to the end), and checks
// the run folder after each kill.
func (t *test) killed(dir string, kills int) error {
	for {
		cmd, done, err := t.start(dir)
		if err != nil {
			return err
		}
		if t.kills >= kills {
			return t.exited(dir, <-done)
		}
		if t.rng.IntN(2) == 0 {
			// While a checkpoint is being written: at the n-th temp file
			// of this process, after a jitter of up to 1 ms.
			if ended, err := waitTemp(filepath.Join(dir, "checkpoints"), 1+t.rng.IntN(3), done); ended {
				return t.exited(dir, err)
			}
			time.Sleep(time.Duration(t.rng.Int64N(int64(time.Millisecond))))
		} else {
			// At a random moment up to a bit past the first checkpoint.
			select {
			case err := <-done:
				return t.exited(dir, err)
			case <-time.After(time.Duration(t.rng.Int64N(int64(max(time.Millisecond, 3*t.firstSave/2))))):
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		err = <-done
		var xe *exec.ExitError
		if !errors.As(err, &xe) || xe.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			return t.exited(dir, err) // it finished (or failed) before the kill
		}
		t.kills++
		if err := t.inspect(dir); err != nil {
			return err
		}
	}
}

// waitTemp waits until the n-th temp file of a checkpoint write appears
// in dir, unless the process ends first: then it returns true and the
// process's error.
func waitTemp(dir string, n int, done <-chan error) (bool, error) {
	seen := map[string]bool{}
	for {
		select {
		case err := <-done:
			return true, err
		default:
		}
		for _, name := range temps(dir, "last.safetensors") {
			if seen[name] = true; len(seen) >= n {
				return false, nil
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// temps lists the temp files of atomic writes of file in dir.
func temps(dir, file string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if digits, ok := strings.CutPrefix(e.Name(), "."+file); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			out = append(out, e.Name())
		}
	}
	return out
}

// inspect looks at a run folder just after a kill: what write it
// interrupted, and whether its checkpoint reads.
func (t *test) inspect(dir string) error {
	if len(temps(filepath.Join(dir, "checkpoints"), "last.safetensors")) > 0 {
		t.duringSave++
	}
	if len(temps(dir, "metrics.jsonl"))+len(temps(dir, "config.json")) > 0 {
		t.duringOther++
	}
	path := filepath.Join(dir, "checkpoints", "last.safetensors")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil // killed before the first checkpoint
	}
	c, err := train.OpenCheckpoint(path)
	if err != nil {
		t.corrupt++
		return fmt.Errorf("corrupt checkpoint after kill %d: %w", t.kills, err)
	}
	lines, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if bytes.Count(lines, []byte("\n")) != len(c.Meta.History) || (len(lines) > 0 && lines[len(lines)-1] != '\n') {
		t.metricsBehind++
	}
	return nil
}

// compare checks the final checkpoint and metrics.jsonl of run folder b
// against those of a: every tensor bit for bit, the state, and the
// metrics but for their timing; and that b holds no temp file.
func compare(a, b string) error {
	load := func(dir string) ([]ckpt.Tensor, train.Meta, error) {
		var m train.Meta
		ts, err := ckpt.Load(filepath.Join(dir, "checkpoints", "last.safetensors"), &m)
		return ts, m, err
	}
	ta, ma, err := load(a)
	if err != nil {
		return err
	}
	tb, mb, err := load(b)
	if err != nil {
		return err
	}
	if len(ta) != len(tb) {
		return fmt.Errorf("%d tensors, uninterrupted %d", len(tb), len(ta))
	}
	for i := range ta {
		if ta[i].Name != tb[i].Name || !slices.Equal(ta[i].Shape, tb[i].Shape) {
			return fmt.Errorf("tensor %d is %s %v, uninterrupted %s %v", i, tb[i].Name, tb[i].Shape, ta[i].Name, ta[i].Shape)
		}
		for j := range ta[i].Data {
			if math.Float32bits(ta[i].Data[j]) != math.Float32bits(tb[i].Data[j]) {
				return fmt.Errorf("%s[%d] = %v, uninterrupted %v", ta[i].Name, j, tb[i].Data[j], ta[i].Data[j])
			}
		}
	}
	sa, sb := ma.State, mb.State
	if sa.Epoch != sb.Epoch || sa.Step != sb.Step || sa.InEpoch != sb.InEpoch || !bytes.Equal(sa.RNG, sb.RNG) {
		return fmt.Errorf("state %+v, uninterrupted %+v", sb, sa)
	}
	la, err := metrics(a)
	if err != nil {
		return err
	}
	lb, err := metrics(b)
	if err != nil {
		return err
	}
	if !slices.Equal(la, lb) || len(la) != sa.Epoch {
		return fmt.Errorf("metrics.jsonl (timing aside):\n%s\nuninterrupted:\n%s", strings.Join(lb, "\n"), strings.Join(la, "\n"))
	}
	for _, d := range []string{b, filepath.Join(b, "checkpoints")} {
		for _, f := range []string{"last.safetensors", "metrics.jsonl", "config.json"} {
			if left := temps(d, f); len(left) > 0 {
				return fmt.Errorf("temp files left in %s: %v", d, left)
			}
		}
	}
	return nil
}

// metrics reads a run folder's metrics.jsonl with the timing fields
// zeroed, one JSON line per epoch.
func metrics(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		var m train.Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil || !strings.HasSuffix(line, "\n") {
			return nil, fmt.Errorf("%s: bad line %q", filepath.Join(dir, "metrics.jsonl"), line)
		}
		m.ImagesPerS, m.Seconds = 0, 0
		s, _ := json.Marshal(m)
		out = append(out, string(s))
	}
	return out, nil
}
