package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/png" // PNG input for predict
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// Attack is the attack command: PGD against a checkpoint's weights on
// test images, one JSON line per image on stdout (label, clean and
// adversarial prediction, whether it stayed robust, the largest pixel
// change). It attacks as training does: each batch starts at the clean
// images with probability --clean-start (PaperAttack's 0.2), else at a
// random point of the ε-cube; eval always starts at random.
func Attack(f Factory, args []string) error {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	src := fs.String("data", "", "data set (default: the one the run trained on)")
	c := PaperAttack()
	finish := AttackFlags(fs, &c, nil)
	fs.IntVar(&c.Steps, "steps", 10, "PGD iterations")
	fs.Float64Var(&c.CleanStart, "clean-start", c.CleanStart, "probability per batch that PGD starts at the clean images, as in training (eval always starts at random)")
	limit := fs.Int("limit", 100, "attack the first N test images")
	batch := fs.Int("batch", 100, "images per batch")
	seed := fs.Uint64("seed", 1, "seed of the attack's random draws")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: attack RUN|CKPT [flags]

PGD against test images, one JSON line per image on stdout: label,
clean and adversarial class, robust (right clean and at every iterate),
confidence, the largest pixel change. The attack is the training one:
each batch starts at the clean images with probability --clean-start
(0.2, the paper's), else at a random point of the eps-cube; eval always
starts at random. The summary on stderr counts an image as robust only
if it is classified right clean and at every iterate.

flags:
`)
		fs.PrintDefaults()
	}
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return Badf("attack: want one RUN folder or checkpoint file, got %d arguments", len(pos))
	}
	if err := finish(); err != nil {
		return err
	}
	if *batch < 1 || *limit < 1 || c.Steps < 1 {
		return Badf("attack: --batch, --limit and --steps must be >= 1")
	}
	if !(c.CleanStart >= 0 && c.CleanStart <= 1) {
		return Badf("attack: --clean-start %g: want a probability in [0, 1]", c.CleanStart)
	}
	m, _, test, err := loadForTest(f, pos[0], src)
	if err != nil {
		return err
	}
	c.Branch = nn.Adv
	a := pgd.New(c, rand.New(rand.NewPCG(*seed, 1)))
	k, size := m.Spec().Classes, test.C*test.H*test.W
	if c.Loss == pgd.Targeted && k < 2 {
		return Badf("attack: a targeted attack needs 2 classes or more, %s has %d", m.Spec().File, k)
	}
	enc := json.NewEncoder(os.Stdout)
	n := min(*limit, test.Len())
	// Images classified right clean, at every iterate, and at the last.
	cleanRight, robust, lastRight := 0, 0, 0
	for lo := 0; lo < n; lo += *batch {
		hi := min(n, lo+*batch)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		x := nn.NewTensor(len(idx), test.C, test.H, test.W)
		y := make([]int, len(idx))
		test.Batch(idx, x.Data, y)
		nonFinite := func(what, pass string, i int) error {
			e := &eval.NonFiniteError{Model: m.Spec().Model, Image: lo + i, Batch: [2]int{lo, hi - 1}, Pass: pass, What: what,
				Layer: "netc eval --interp names the first layer whose output is not finite"}
			if what != "logits" {
				e.Layer = "the forward pass was finite: the backward pass made it"
			}
			return e
		}
		logits := m.Forward(x, a.Inference())
		if j := nn.FirstNonFinite(logits.Data); j >= 0 {
			return nonFinite("logits", "the clean pass", j/k)
		}
		clean := make([]int, len(y))
		ok := make([]bool, len(y))
		for i, lab := range y {
			clean[i], _ = nn.Softmax(logits.Data[i*k : (i+1)*k])
			ok[i] = clean[i] == lab
			cleanRight += b2i(ok[i])
		}
		// The attack as pgd.Attacker.Attack runs it, seeing every iterate.
		follow := y
		if c.Loss == pgd.Targeted {
			follow = a.Targets(y, k)
		}
		xa := a.Start(x)
		adv := make([]float32, len(y)*k)
		err := a.Trajectory(m, xa, follow, a.EffectiveStep(), c.Steps, func(s int, logits *nn.Tensor) error {
			if j := nn.FirstNonFinite(logits.Data); j >= 0 {
				return nonFinite("logits", fmt.Sprintf("PGD iterate %d", s), j/k)
			}
			for i, lab := range y {
				if nn.CountTop1(logits.Data[i*k:(i+1)*k], k, []int{lab}) == 0 {
					ok[i] = false
				}
			}
			if s == c.Steps {
				copy(adv, logits.Data)
			}
			return nil
		})
		var ge *pgd.GradientError
		if errors.As(err, &ge) {
			return nonFinite("input gradient", fmt.Sprintf("PGD iterate %d", ge.Iterate), ge.Image)
		}
		if err != nil {
			return err
		}
		for i, lab := range y {
			ac, probs := nn.Softmax(adv[i*k : (i+1)*k])
			dmax := 0.0
			for j := range size {
				dmax = max(dmax, float64(abs32(xa.Data[i*size+j]-x.Data[i*size+j])))
			}
			robust += b2i(ok[i])
			lastRight += b2i(ac == lab)
			line := map[string]any{"index": lo + i, "label": lab, "clean": clean[i], "adversarial": ac, "robust": ok[i], "confidence": probs[ac], "linf": dmax}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
	}
	pct := func(v int) float64 { return 100 * float64(v) / float64(n) }
	fmt.Fprintf(os.Stderr, "%s PGD-%d, eps %.4g, clean start with p = %.2g: %d of %d images classified right clean and at every iterate (%.2f%%); clean %.2f%%, at the last iterate alone %.2f%%\n",
		c.Loss, c.Steps, c.Eps, c.CleanStart, robust, n, pct(robust), pct(cleanRight), pct(lastRight))
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// BenchResult is what bench prints: images per second of each workload
// on synthetic input.
type BenchResult struct {
	Model   string `json:"model"`
	Batch   int    `json:"batch"`
	Threads int    `json:"threads"`
	ISA     string `json:"isa"`
	// Inference is a forward pass with running statistics; TrainStep a
	// training forward, softmax cross-entropy, full backward and SGD
	// update; AttackStep one PGD step (forward and input gradient);
	// AdvTrainStep ten attack steps and a training step.
	Inference    float64 `json:"inference"`
	TrainStep    float64 `json:"train_step"`
	AttackStep   float64 `json:"attack_step"`
	AdvTrainStep float64 `json:"adv_train_step_pgd10"`
}

// benchOptions are the settings of the bench command.
type benchOptions struct {
	batch, threads int
	minTime        time.Duration
	asJSON         bool
}

// benchFlags is the flag set of the bench command.
func benchFlags() (*flag.FlagSet, *benchOptions) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &benchOptions{}
	fs.IntVar(&o.batch, "batch", 128, "images per batch")
	fs.IntVar(&o.threads, "threads", 1, "threads")
	fs.DurationVar(&o.minTime, "time", 2*time.Second, "time each workload at least this long (and at least twice)")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object on stdout")
	return fs, o
}

// BenchUsage writes the help of the bench command, invoked as synopsis
// (such as "netc bench model SPEC"), to w.
func BenchUsage(w io.Writer, synopsis string) {
	fmt.Fprintf(w, `usage: %s [flags]

Times a model on synthetic input, in images/s: inference (a forward pass
with running statistics), a training step (forward, softmax cross-entropy,
backward, SGD update), a PGD attack step (forward and input gradient) and a
PGD-10 adversarial training step. Progress and figures go to stderr; --json
prints one object on stdout.

Flags:
`, synopsis)
	fs, _ := benchFlags()
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// Bench is the bench command: images/s of inference, a training step, a
// PGD attack step and a PGD-10 adversarial training step, for a model of
// spec s built by f (with s nil, the spec is the first argument).
func Bench(f Factory, s *spec.Spec, args []string) error {
	fs, o := benchFlags()
	fs.Usage = func() {
		synopsis := filepath.Base(os.Args[0]) + " bench"
		if s == nil {
			synopsis = "netc bench model SPEC"
		}
		BenchUsage(fs.Output(), synopsis)
	}
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if pos, err = compiledSpecArg("bench", s, pos); err != nil {
		return err
	}
	if s == nil {
		if len(pos) != 1 {
			return Badf("bench: want one SPEC file, got %d arguments", len(pos))
		}
		if s, err = spec.ParseFile(pos[0]); err != nil {
			return Bad(err)
		}
	} else if len(pos) != 0 {
		return Badf("bench: unexpected argument %q", pos[0])
	}
	if o.batch < 1 || o.threads < 1 {
		return Badf("bench: --batch and --threads must be >= 1")
	}
	if err := CheckMemory(s, o.batch); err != nil {
		return err
	}
	runtime.GOMAXPROCS(o.threads)
	kernels.SetThreads(o.threads)
	m, err := f(s, 1)
	if err != nil {
		return err
	}
	isa, err := kernels.Select()
	if err != nil {
		return err
	}
	s = m.Spec()
	r := BenchResult{Model: s.Model, Batch: o.batch, Threads: o.threads, ISA: string(isa)}
	d := data.Synthetic(o.batch, s.Input[0], s.Input[1], s.Input[2], s.Classes, 1)
	x := nn.NewTensor(o.batch, s.Input[0], s.Input[1], s.Input[2])
	y := make([]int, o.batch)
	idx := make([]int, o.batch)
	for i := range idx {
		idx[i] = i
	}
	d.Batch(idx, x.Data, y)
	k := s.Classes
	dl := nn.NewTensor(o.batch, k)
	opt := train.NewSGD(m.Params(), 0.9, 5e-4, true)
	trainStep := func(x *nn.Tensor) {
		logits := m.Forward(x, nn.Mode{Norm: nn.BatchStats, UpdateStats: true, Split: o.batch})
		ref.SoftmaxCrossEntropy(o.batch, k, logits.Data, y, 0, dl.Data)
		m.Backward(dl, nn.AllGrads)
		opt.Step(m.Params(), 0.05, func(*nn.Param) bool { return true })
	}
	c := pgd.Config{Eps: 8.0 / 255, Step: 2.0 / 255, Steps: 10, Loss: pgd.Untargeted, Norm: nn.RunningStats}
	a := pgd.New(c, rand.New(rand.NewPCG(1, 2)))
	xa := a.Start(x)
	work := []struct {
		name string
		dst  *float64
		run  func()
	}{
		{"inference", &r.Inference, func() { m.Forward(x, nn.Mode{Norm: nn.RunningStats, InputOnly: true}) }},
		{"train_step", &r.TrainStep, func() { trainStep(x) }},
		{"attack_step", &r.AttackStep, func() { a.Step(m, xa, y, c.EffectiveStep()) }},
		{"adv_train_step_pgd10", &r.AdvTrainStep, func() {
			adv, _ := a.Attack(m, x, y, k)
			trainStep(adv)
		}},
	}
	for _, w := range work {
		w.run() // warm-up
		start, iters := time.Now(), 0
		for iters < 2 || time.Since(start) < o.minTime {
			w.run()
			iters++
		}
		*w.dst = float64(iters*o.batch) / time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "%s: %-22s %9.1f img/s (%d iterations)\n", s.Model, w.name, *w.dst, iters)
	}
	if o.asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	return nil
}

// Predict is the predict command: the class of each PNG image under a
// checkpoint's weights, or, if trained is not nil and the first argument
// is an image, under the weights trained returns (embedded ones).
func Predict(f Factory, trained func() (nn.Model, error), args []string) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	var m nn.Model
	if len(pos) > 0 && trained != nil && strings.HasSuffix(strings.ToLower(pos[0]), ".png") {
		if m, err = trained(); err != nil {
			return err
		}
	} else {
		if len(pos) < 2 {
			return Badf("predict: want a RUN folder or checkpoint and one or more PNG images")
		}
		if m, _, _, err = LoadModel(f, pos[0]); err != nil {
			return err
		}
		pos = pos[1:]
	}
	for _, path := range pos {
		img, err := ReadImage(path, m.Spec().Input)
		if err != nil {
			return Bad(err)
		}
		class, probs := Classify(m, img)
		fmt.Printf("%s: class %d (p = %.4f)\n", path, class, probs[class])
	}
	return nil
}

// Classify runs one image (C×H×W pixels in [0,1]) through m in inference
// mode and returns its class and the softmax probabilities. It runs
// m.Forward, so it is not safe for concurrent use on one m (a compiled
// model's Predict is).
func Classify(m nn.Model, img []float32) (int, []float32) {
	var buf []float32
	classes, probs := nn.PredictBatch(m, [][]float32{img}, 1, &buf)
	return classes[0], probs[0]
}

// ReadImage reads a PNG image of the input size shape (channels,
// height, width) as pixels in [0,1], channel-major: gray for one
// channel, RGB for three.
func ReadImage(path string, shape [3]int) ([]float32, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, h, w := shape[0], shape[1], shape[2]
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("%s: image is %dx%d, the model takes %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("%s: the model takes %d channels; PNG input gives 1 or 3", path, c)
	}
	out := make([]float32, c*h*w)
	for yy := range h {
		for xx := range w {
			r16, g16, b16, _ := img.At(b.Min.X+xx, b.Min.Y+yy).RGBA()
			rgb := [3]float32{float32(r16) / 65535, float32(g16) / 65535, float32(b16) / 65535}
			if c == 1 {
				out[yy*w+xx] = 0.299*rgb[0] + 0.587*rgb[1] + 0.114*rgb[2]
				continue
			}
			for ch := range 3 {
				out[(ch*h+yy)*w+xx] = rgb[ch]
			}
		}
	}
	return out, nil
}
