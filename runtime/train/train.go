// Package train is netc's adversarial trainer: it runs a training
// strategy of the paper over a data set, with SGD, a learning-rate
// schedule, progress, metrics and resumable checkpoints.
package train

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/progress"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/spec"
)

// Config is a training run; it is written to RUN/config.json.
type Config struct {
	Data   string `json:"data"`
	Epochs int    `json:"epochs"`
	Batch  int    `json:"batch"`
	Limit  int    `json:"limit,omitempty"` // train on the first Limit images (0: all)
	Seed   uint64 `json:"seed"`

	LR          float64   `json:"lr"`           // peak learning rate
	Warmup      float64   `json:"warmup"`       // epochs
	DecayEpochs []float64 `json:"decay_epochs"` // lr x0.1 at each
	Momentum    float64   `json:"momentum"`
	Nesterov    bool      `json:"nesterov"`
	WeightDecay float64   `json:"weight_decay"`
	Smoothing   float64   `json:"label_smoothing"`

	// Adversarial trains on PGD images; CleanRatio adds that share of their
	// clean counterparts ("100% adv + X% clean"), weighted by CleanWeight.
	// Without Adversarial the batch is clean images only.
	Adversarial bool       `json:"adversarial"`
	CleanRatio  float64    `json:"clean_ratio"`
	CleanWeight float64    `json:"clean_weight"`
	Attack      pgd.Config `json:"attack"`
	// ALP is the weight of adversarial logit pairing: the loss adds
	// ALP × the mean, over the images that have both, of the squared
	// distance between an image's clean and adversarial logits (needs
	// CleanRatio > 0).
	ALP float64 `json:"alp,omitempty"`
	// EpsWarmup ramps the attack's ε (and step) linearly from 0 over the
	// first epochs: a curriculum that keeps small networks from collapsing
	// at large ε (0: full ε from the start).
	EpsWarmup float64 `json:"eps_warmup,omitempty"`

	// RunningStatsEpochs: the last K epochs normalize with the frozen
	// running statistics.
	RunningStatsEpochs int `json:"running_stats_epochs,omitempty"`

	// Init is a checkpoint whose weights and running statistics start a new
	// run (fine-tuning); the optimizer starts afresh.
	Init string `json:"init,omitempty"`
	// NormOnly trains the norm layers only (their affine parameters and,
	// with batch statistics, running statistics): the paper's BN
	// fine-tuning of an adversarially trained model.
	NormOnly bool `json:"norm_only,omitempty"`
}

// Defaults is the IAT recipe for a batch size: Nesterov momentum 0.9, lr
// 0.1·batch/256, weight decay 1e-4, label smoothing 0.1.
func Defaults(batch int) Config {
	return Config{
		Epochs: 1, Batch: batch, LR: 0.1 * float64(batch) / 256,
		Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, Smoothing: 0.1,
		CleanWeight: 0.5,
	}
}

// Validate reports the first nonsensical setting, naming the flag that
// sets it.
func (c *Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("--epochs %d: want >= 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("--batch %d: want >= 1", c.Batch)
	case c.Limit < 0:
		return fmt.Errorf("--limit %d: want >= 0 (0: all images)", c.Limit)
	case c.Attack.Steps < 0:
		return fmt.Errorf("--attack-steps %d: want >= 0 (0: clean training)", c.Attack.Steps)
	}
	bounds := []bound{
		{"lr", c.LR, 0, maxFloat32, true, false},
		{"warmup", c.Warmup, 0, maxFloat32, false, false},
		{"momentum", c.Momentum, 0, 1, false, true},
		{"wd", c.WeightDecay, 0, maxFloat32, false, false},
		{"label-smoothing", c.Smoothing, 0, 1, false, true},
		{"clean-ratio", c.CleanRatio, 0, 1, false, false},
		{"clean-weight", c.CleanWeight, 0, 1, false, false},
		{"alp", c.ALP, 0, maxFloat32, false, false},
		{"eps-warmup", c.EpsWarmup, 0, float64(c.Epochs), false, false},
		{"eps", c.Attack.Eps, 0, 1, false, false}, // pixels lie in [0, 1]
		{"step", c.Attack.Step, 0, maxFloat32, false, false},
		{"clean-start", c.Attack.CleanStart, 0, 1, false, false},
	}
	for _, d := range c.DecayEpochs {
		bounds = append(bounds, bound{"decay", d, 0, maxFloat32, false, false})
	}
	for _, b := range bounds {
		if err := b.check(); err != nil {
			return err
		}
	}
	switch {
	case c.ALP > 0 && (!c.Adversarial || int(math.Round(c.CleanRatio*float64(c.Batch))) == 0):
		return fmt.Errorf("--alp pairs each clean image with its adversarial one: it needs adversarial training and a --clean-ratio that puts clean images in the batch")
	case c.Adversarial && (c.Attack.Steps < 1 || c.Attack.Eps <= 0):
		return fmt.Errorf("adversarial training needs --attack-steps >= 1 and --eps > 0")
	case c.RunningStatsEpochs < 0 || c.RunningStatsEpochs > c.Epochs:
		return fmt.Errorf("--running-stats-epochs %d: want 0..%d", c.RunningStatsEpochs, c.Epochs)
	}
	return nil
}

// maxFloat32 is the largest finite float32: the trainer computes in
// float32, so a setting beyond it is Inf.
const maxFloat32 = math.MaxFloat32

// bound is the accepted range of a float setting: lo <= v <= hi, with lo
// or hi itself excluded if open.
type bound struct {
	flag           string
	v, lo, hi      float64
	openLo, openHi bool
}

// check reports a value out of the range (NaN included), naming the
// flag.
func (b bound) check() error {
	if b.v >= b.lo && b.v <= b.hi && !(b.openLo && b.v == b.lo) && !(b.openHi && b.v == b.hi) {
		return nil
	}
	lo, hi := " <= ", " <= "
	if b.openLo {
		lo = " < "
	}
	if b.openHi {
		hi = " < "
	}
	limit := fmt.Sprint(b.hi)
	if b.hi == maxFloat32 {
		limit = "3.4e38 (the float32 range)"
	}
	return fmt.Errorf("--%s %v: want %v%s%s%s%s", b.flag, b.v, b.lo, lo, b.flag, hi, limit)
}

// images is how many images of the data set an epoch trains on.
func (c *Config) images(d *data.Dataset) int {
	n := d.Len()
	if c.Limit > 0 && c.Limit < n {
		n = c.Limit
	}
	return n
}

// perStep is how many clean and how many adversarial images a step
// trains on (and tallies).
func (c *Config) perStep() (clean, adv int) {
	if !c.Adversarial {
		return c.Batch, 0
	}
	return int(math.Round(c.CleanRatio * float64(c.Batch))), c.Batch
}

// Run is a training run in a folder: config.json, metrics.jsonl and
// checkpoints/last.safetensors.
type Run struct {
	Dir    string
	Config Config
	Model  nn.Model
	Data   *data.Dataset
	// Test, if set, gives the clean test accuracy on its first TestLimit
	// images at the end of each epoch.
	Test      *data.Dataset
	TestLimit int
	Quiet     bool
	// CheckpointEvery also checkpoints within an epoch when this much time
	// has passed since the last checkpoint (0: at the end of epochs only).
	CheckpointEvery time.Duration

	opt     *SGD
	rng     *rand.Rand // attack draws
	pcg     *rand.PCG
	state   State
	history []Metrics // of the finished epochs
	lock    *os.File  // holds the run folder's lock (see lockFolder)
}

// State is where a run stands; it is stored in each checkpoint.
type State struct {
	Epoch   int    `json:"epoch"`    // epochs finished
	Step    int    `json:"step"`     // optimizer steps taken
	InEpoch int    `json:"in_epoch"` // steps taken in the unfinished epoch
	RNG     []byte `json:"rng"`      // the attack generator's state
	Sums    sums   `json:"sums"`     // the unfinished epoch's tallies
}

// sums tally an epoch for its metrics.
type sums struct {
	Loss                         float64
	CleanOK, AdvOK, CleanN, AdvN int
	Seconds                      float64
}

// ErrNonFinite is wrapped by the error of a run that met NaN or Inf.
var ErrNonFinite = errors.New("non-finite value")

// InputError is an error of what the run was given: its settings, its
// checkpoint's content, a run folder another trainer holds. Errors
// without it (a folder that cannot be created, a write or fsync that
// fails, a full disk) are the environment's.
type InputError struct{ Err error }

// Error is the wrapped error's message.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *InputError) Unwrap() error { return e.Err }

// Start prepares a new run, or resumes the one in Dir if it has a
// checkpoint: it takes the run folder's lock (held until Close), removes
// temp files a killed run left, checks the checkpoint (settings, spec,
// state, tensors) and repairs metrics.jsonl from it. Errors about the
// run's input are InputErrors.
func (r *Run) Start() error {
	if err := r.Config.Validate(); err != nil {
		return &InputError{err}
	}
	if _, err := r.stepsPerEpoch(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, "checkpoints"), 0o755); err != nil {
		return fmt.Errorf("creating the run folder: %w", err)
	}
	lock, err := lockFolder(r.Dir)
	if err != nil {
		return err
	}
	r.lock = lock
	if err := r.start(); err != nil {
		r.Close()
		return err
	}
	return nil
}

// Close releases the run folder's lock.
func (r *Run) Close() error {
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close()
	r.lock = nil
	return err
}

// start is Start once the folder is locked.
func (r *Run) start() error {
	if err := removeStale(r.Dir); err != nil {
		return err
	}
	r.init()
	ck := r.CheckpointPath()
	if _, err := os.Stat(ck); err == nil {
		return r.resumeFolder(ck)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if r.Config.Init != "" {
		c, err := OpenCheckpoint(r.Config.Init)
		if err != nil {
			return err
		}
		if err := c.Restore(r.Model, nil); err != nil {
			return err
		}
		if err := CheckFinite(r.Model, nil); err != nil {
			return &InputError{fmt.Errorf("--init %s: %w", r.Config.Init, err)}
		}
		r.logf("starting from the weights of %s", r.Config.Init)
	}
	if err := writeConfig(r.Dir, r.Config); err != nil {
		return err
	}
	// Lines of an earlier attempt that never checkpointed are not this
	// run's.
	return writeMetrics(r.Dir, nil)
}

// init gives the run a fresh optimizer and attack generator.
func (r *Run) init() {
	r.opt = NewSGD(r.Model.Params(), float32(r.Config.Momentum), float32(r.Config.WeightDecay), r.Config.Nesterov)
	r.pcg = rand.NewPCG(r.Config.Seed, 0x61747461636b)
	r.rng = rand.New(r.pcg)
	r.state, r.history = State{}, nil
}

// resumeFolder resumes the run from its checkpoint ck.
func (r *Run) resumeFolder(ck string) error {
	if err := checkConfigFile(r.Dir, r.Config); err != nil {
		return err
	}
	c, err := OpenCheckpoint(ck)
	if err != nil {
		return err
	}
	if err := r.resume(c); err != nil {
		return err
	}
	if err := r.repairMetrics(); err != nil {
		return err
	}
	// config.json follows the run's --epochs.
	if err := writeConfig(r.Dir, r.Config); err != nil {
		return err
	}
	r.logf("resuming %s after %d epochs and %d steps", r.Dir, r.state.Epoch, r.state.Step)
	return nil
}

// stepsPerEpoch is the optimizer steps of an epoch: its images in whole
// batches.
func (r *Run) stepsPerEpoch() (int, error) {
	n := r.Config.images(r.Data)
	steps := n / r.Config.Batch
	if steps == 0 {
		return 0, &InputError{fmt.Errorf("%d training images are fewer than one batch of %d", n, r.Config.Batch)}
	}
	return steps, nil
}

// CheckpointPath is the run's latest checkpoint.
func (r *Run) CheckpointPath() string {
	return filepath.Join(r.Dir, "checkpoints", "last.safetensors")
}

func (r *Run) logf(format string, args ...any) {
	if !r.Quiet {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// Metrics is one line of metrics.jsonl, written at the end of each epoch.
type Metrics struct {
	Epoch      int     `json:"epoch"`
	Step       int     `json:"step"`
	LR         float64 `json:"lr"`
	Loss       float64 `json:"loss"`
	CleanAcc   float64 `json:"train_clean_acc,omitempty"` // on the clean images of the batches
	AdvAcc     float64 `json:"train_adv_acc,omitempty"`   // on the adversarial images
	TestAcc    float64 `json:"test_clean_acc,omitempty"`
	ImagesPerS float64 `json:"images_per_s"`
	Seconds    float64 `json:"seconds"`
}

// String is the metrics as a line for people: only the measured values.
func (m Metrics) String() string {
	s := fmt.Sprintf("epoch %d: loss %.4f", m.Epoch, m.Loss)
	for _, f := range []struct {
		name string
		v    float64
	}{{"train clean acc", m.CleanAcc}, {"train adv acc", m.AdvAcc}, {"test clean acc", m.TestAcc}} {
		if f.v != 0 {
			s += fmt.Sprintf(", %s %.2f%%", f.name, 100*f.v)
		}
	}
	return s + fmt.Sprintf(", %.0f img/s", m.ImagesPerS)
}

// Train runs the remaining epochs. It checkpoints after every epoch (and
// every CheckpointEvery; an epoch's metrics go into its checkpoint, then
// to metrics.jsonl), stops with an error wrapping ErrNonFinite if the
// loss, a gradient or a weight turns NaN or Inf (never saving it), and
// when ctx is done checkpoints where it stands and returns ctx's error:
// Start and Train resume exactly.
func (r *Run) Train(ctx context.Context) error {
	c := r.Config
	n := c.images(r.Data)
	steps, err := r.stepsPerEpoch()
	if err != nil {
		return err
	}
	sched := Schedule{Peak: c.LR, Warmup: c.Warmup, Decay: c.DecayEpochs, Factor: 0.1}
	d := r.Data
	params := r.Model.Params()
	k := d.Classes
	nClean := 0
	if c.Adversarial {
		nClean, _ = c.perStep()
	}
	attacker := pgd.New(c.Attack, r.rng)
	if hasMBN(r.Model.Spec()) {
		attacker.Branch = nn.Adv
	}
	size := d.C * d.H * d.W
	xb := nn.NewTensor(c.Batch, d.C, d.H, d.W)
	yb := make([]int, c.Batch)
	in := nn.NewTensor(nClean+c.Batch, d.C, d.H, d.W)
	yin := make([]int, nClean+c.Batch)
	dl := nn.NewTensor(nClean+c.Batch, k)

	for epoch := r.state.Epoch; epoch < c.Epochs; epoch++ {
		order := rand.New(rand.NewPCG(c.Seed, uint64(epoch))).Perm(n)
		label := fmt.Sprintf("epoch %d/%d", epoch+1, c.Epochs)
		normMode := nn.BatchStats
		if c.RunningStatsEpochs > 0 && epoch >= c.Epochs-c.RunningStatsEpochs {
			normMode = nn.RunningStats
		}
		start, lastSave := time.Now(), time.Now()
		first, t := r.state.InEpoch, r.state.Sums
		// save checkpoints the run after step s of this epoch.
		save := func(s int) error {
			r.state.InEpoch, r.state.Sums = s, t
			r.state.Sums.Seconds += time.Since(start).Seconds()
			lastSave = time.Now()
			return r.Save()
		}
		var bar *progress.Bar
		if !r.Quiet {
			bar = progress.New(label, (steps-first)*c.Batch, "img")
		}
		var lr float64
		for s := first; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				if serr := save(s); serr != nil {
					return serr
				}
				return fmt.Errorf("stopped at epoch %d, step %d of %d (checkpoint saved; run again to resume): %w", epoch+1, s, steps, err)
			}
			d.Batch(order[s*c.Batch:(s+1)*c.Batch], xb.Data, yb)
			mode := nn.Mode{Norm: normMode, UpdateStats: normMode == nn.BatchStats}
			var batch int
			if c.Adversarial {
				if c.EpsWarmup > 0 {
					f := min(1, (float64(epoch)+float64(s+1)/float64(steps))/c.EpsWarmup)
					attacker.Config.Eps, attacker.Config.Step = f*c.Attack.Eps, f*c.Attack.Step
				}
				// An interrupt during the attack abandons the step: the
				// checkpoint is the state before it, the attack's draws
				// undone, so a resumed run redoes it exactly.
				rng, err := r.pcg.MarshalBinary()
				if err != nil {
					return err
				}
				xa, _, err := attacker.AttackContext(ctx, r.Model, xb, yb, k)
				if err != nil {
					if uerr := r.pcg.UnmarshalBinary(rng); uerr != nil {
						return uerr
					}
					if serr := save(s); serr != nil {
						return serr
					}
					return fmt.Errorf("stopped at epoch %d, step %d of %d, during its attack (checkpoint saved; run again to resume): %w", epoch+1, s, steps, err)
				}
				copy(in.Data, xb.Data[:nClean*size])
				copy(in.Data[nClean*size:], xa.Data)
				copy(yin, yb[:nClean])
				copy(yin[nClean:], yb)
				batch = nClean + c.Batch
				mode.Split, mode.Branch = nClean, nn.Adv
			} else {
				copy(in.Data, xb.Data)
				copy(yin, yb)
				batch = c.Batch
				mode.Split, mode.Branch = batch, nn.Clean
			}
			x := &nn.Tensor{Shape: []int{batch, d.C, d.H, d.W}, Data: in.Data[:batch*size]}
			logits := r.Model.Forward(x, mode)
			dl.Shape = []int{batch, k}
			dl.Data = dl.Data[:batch*k]
			// Loss: a·J(clean) + (1−a)·J(adv), each a mean over its part.
			split := mode.Split
			if !c.Adversarial {
				split = batch
			}
			wClean, wAdv := 1.0, 1.0
			if c.Adversarial && split > 0 {
				wClean, wAdv = c.CleanWeight, 1-c.CleanWeight
			}
			loss := 0.0
			sm := float32(c.Smoothing)
			if split > 0 {
				l := ref.SoftmaxCrossEntropy(split, k, logits.Data[:split*k], yin[:split], sm, dl.Data[:split*k])
				scale(dl.Data[:split*k], float32(wClean))
				loss += wClean * float64(l)
				t.CleanOK += nn.CountTop1(logits.Data[:split*k], k, yin[:split])
				t.CleanN += split
			}
			if split < batch {
				l := ref.SoftmaxCrossEntropy(batch-split, k, logits.Data[split*k:], yin[split:batch], sm, dl.Data[split*k:])
				scale(dl.Data[split*k:], float32(wAdv))
				loss += wAdv * float64(l)
				t.AdvOK += nn.CountTop1(logits.Data[split*k:batch*k], k, yin[split:batch])
				t.AdvN += batch - split
			}
			if c.ALP > 0 {
				// The first nClean adversarial images are the clean ones'.
				zc, za := logits.Data[:nClean*k], logits.Data[split*k:(split+nClean)*k]
				loss += LogitPairing(nClean, k, zc, za, c.ALP, dl.Data[:nClean*k], dl.Data[split*k:(split+nClean)*k])
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("%w: loss is %v at epoch %d step %d (lr %.4g); %s", ErrNonFinite, loss, epoch+1, s+1, lr, diagnose(params))
			}
			r.Model.Backward(dl, nn.AllGrads)
			if p := firstNonFinite(params, true); p != "" {
				return fmt.Errorf("%w: gradient of %s at epoch %d step %d (lr %.4g, loss %.4g); try a lower --lr or a longer --warmup", ErrNonFinite, p, epoch+1, s+1, lr, loss)
			}
			lr = sched.At(float64(epoch) + float64(s+1)/float64(steps))
			var only func(*nn.Param) bool
			if c.NormOnly {
				only = func(p *nn.Param) bool { return p.Norm }
			}
			r.opt.Step(params, float32(lr), only)
			if p := firstNonFinite(params, false); p != "" {
				return fmt.Errorf("%w: step %d of epoch %d (lr %.4g, loss %.4g) made parameter %s non-finite; not saving it, %s; try a lower --lr or a longer --warmup", ErrNonFinite, s+1, epoch+1, lr, loss, p, r.kept())
			}
			r.state.Step++
			t.Loss += loss
			if bar != nil {
				bar.Add(c.Batch, fmt.Sprintf("loss %.3f", t.Loss/float64(s+1)))
			}
			if r.CheckpointEvery > 0 && s+1 < steps && time.Since(lastSave) >= r.CheckpointEvery {
				if err := save(s + 1); err != nil {
					return err
				}
			}
		}
		if bar != nil {
			bar.Done("")
		}
		r.state.Epoch, r.state.InEpoch, r.state.Sums = epoch+1, 0, sums{}
		el := t.Seconds + time.Since(start).Seconds()
		m := Metrics{Epoch: epoch + 1, Step: r.state.Step, LR: sched.At(float64(epoch + 1)), Loss: t.Loss / float64(steps),
			ImagesPerS: float64(steps*c.Batch) / el, Seconds: el}
		if t.CleanN > 0 {
			m.CleanAcc = float64(t.CleanOK) / float64(t.CleanN)
		}
		if t.AdvN > 0 {
			m.AdvAcc = float64(t.AdvOK) / float64(t.AdvN)
		}
		if r.Test != nil {
			m.TestAcc = Accuracy(r.Model, r.Test, r.TestLimit, c.Batch, nn.Mode{Norm: nn.RunningStats, Branch: attacker.Branch, InputOnly: true})
		}
		// The epoch's metrics enter the checkpoint; metrics.jsonl follows
		// (Start repairs it if a kill came between the two).
		r.history = append(r.history, m)
		if err := r.Save(); err != nil {
			return err
		}
		if err := appendJSONL(r.metricsPath(), m); err != nil {
			return err
		}
		r.logf("%s", m)
	}
	return nil
}

func hasMBN(s *spec.Spec) bool { return s.Branched() }

// LogitPairing is adversarial logit pairing over n pairs of k logits:
// it returns weight × (1/n) Σᵢ ‖zc[i] − za[i]‖² and adds its gradient to
// dzc and dza.
func LogitPairing(n, k int, zc, za []float32, weight float64, dzc, dza []float32) float64 {
	sum := 0.0
	g := 2 * weight / float64(n)
	for i := range n * k {
		d := float64(zc[i]) - float64(za[i])
		sum += d * d
		dzc[i] += float32(g * d)
		dza[i] -= float32(g * d)
	}
	return weight * sum / float64(n)
}

// Save writes the run's checkpoint atomically. It refuses to write NaN
// or Inf (an error wrapping ErrNonFinite): the last good checkpoint is
// kept.
func (r *Run) Save() error {
	st := r.state
	rng, err := r.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	st.RNG = rng
	err = SaveCheckpoint(r.CheckpointPath(), r.Model, r.opt, Meta{State: st, Config: r.Config, History: r.history})
	if errors.Is(err, ErrNonFinite) {
		return fmt.Errorf("%w after step %d; %s; try a lower --lr or a longer --warmup", err, st.Step, r.kept())
	}
	return err
}

// kept says what checkpoint a run that stops on non-finite values leaves.
func (r *Run) kept() string {
	if _, err := os.Stat(r.CheckpointPath()); err != nil {
		return "no checkpoint was written"
	}
	return r.CheckpointPath() + " keeps the last good state"
}

func scale(v []float32, a float32) {
	if a == 1 {
		return
	}
	for i := range v {
		v[i] *= a
	}
}

// Accuracy is the clean accuracy of m on the first limit images of d (0:
// all) in mode.
func Accuracy(m nn.Model, d *data.Dataset, limit, batch int, mode nn.Mode) float64 {
	n := d.Len()
	if limit > 0 && limit < n {
		n = limit
	}
	x := nn.NewTensor(batch, d.C, d.H, d.W)
	y := make([]int, batch)
	idx := make([]int, batch)
	ok := 0
	for lo := 0; lo < n; lo += batch {
		b := min(batch, n-lo)
		for i := range b {
			idx[i] = lo + i
		}
		xs := &nn.Tensor{Shape: []int{b, d.C, d.H, d.W}, Data: x.Data[:b*d.C*d.H*d.W]}
		d.Batch(idx[:b], xs.Data, y[:b])
		ok += nn.CountTop1(m.Forward(xs, mode).Data, d.Classes, y[:b])
	}
	return float64(ok) / float64(n)
}

func firstNonFinite(params []*nn.Param, grads bool) string {
	for _, p := range params {
		v := p.Value.Data
		if grads {
			v = p.Grad.Data
		}
		if nn.FirstNonFinite(v) >= 0 {
			return p.Name
		}
	}
	return ""
}

func diagnose(params []*nn.Param) string {
	if p := firstNonFinite(params, false); p != "" {
		return "parameter " + p + " is already non-finite; try a lower --lr or a longer --warmup"
	}
	return "parameters are finite, so the logits overflowed; try a lower --lr"
}
