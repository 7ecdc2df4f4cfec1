// Package diag reports what a model's layers hold and see: the
// per-channel running statistics of every BN (per branch of a Mixture
// BN: the paper's Fig. 5) and, next to them, the batch statistics that
// BN normalizes with on test batches of clean or adversarial images
// (Fig. 6); and, for a model whose output is not finite, the first
// layer where a NaN or an infinity appears.
package diag

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
)

// Branch names in reports: a plain BN layer has one set of statistics
// ("bn"); a Mixture BN has a clean and an adversarial one.
const (
	BranchBN    = "bn"
	BranchClean = "clean"
	BranchAdv   = "adv"
)

// Layer is the statistics of one branch of one BN layer, per channel.
type Layer struct {
	Layer       string    `json:"layer"`  // e.g. "layer2.0.bn1"
	Branch      string    `json:"branch"` // "bn", "clean" or "adv"
	Channels    int       `json:"channels"`
	RunningMean []float32 `json:"running_mean"`
	RunningVar  []float32 `json:"running_var"`
	// BatchMean and BatchVar are the per-channel mean and (biased)
	// variance of the layer's input over each batch, what BN normalizes
	// with in training, averaged over the batches (weighted by their
	// sizes); absent without batches.
	BatchMean []float32 `json:"batch_mean,omitempty"`
	BatchVar  []float32 `json:"batch_var,omitempty"`
}

// Name is the layer's name in the model's NormState: Layer, with ".adv"
// for the adversarial branch of a Mixture BN.
func (l *Layer) Name() string {
	if l.Branch == BranchAdv {
		return l.Layer + ".adv"
	}
	return l.Layer
}

// Attack is the attack that made the adversarial images of a report.
type Attack struct {
	Loss  string  `json:"loss"`
	Eps   float64 `json:"eps"`
	Step  float64 `json:"step"` // effective step
	Steps int     `json:"steps"`
	Norm  string  `json:"norm"` // BN statistics while attacking: running or batch
}

// Report is the output of `netc stats`.
type Report struct {
	Checkpoint string `json:"checkpoint,omitempty"`
	Model      string `json:"model"`
	// With batch statistics: the test data, the number of batches, their
	// size and the images in all, whether they were attacked, the attack
	// and its seed.
	Data        string  `json:"data,omitempty"`
	Batches     int     `json:"batches,omitempty"`
	Batch       int     `json:"batch,omitempty"`
	Images      int     `json:"images,omitempty"`
	Adversarial bool    `json:"adversarial,omitempty"`
	Attack      *Attack `json:"attack,omitempty"`
	Seed        uint64  `json:"seed,omitempty"`
	Layers      []Layer `json:"layers"`
}

// Config says what Collect measures.
type Config struct {
	// Prefix selects the BN layers whose name is Prefix or starts with
	// Prefix + "." ("layer2.0" selects layer2.0.bn1, layer2.0.bn2 and
	// layer2.0.downsample.1); empty selects all.
	Prefix string
	// Branches selects the branches of Mixture BN layers (nil: both).
	// Plain BN layers are always reported.
	Branches []nn.Branch
	// Batches > 0 also measures batch statistics on the first Batches
	// batches of Batch test images, clean or, with Adversarial, attacked
	// with Attack (through the branch measured; Attack.Branch is ignored)
	// from random draws of Seed. The attack starts at a random point of
	// the ε-cube, as in evaluation (Attack.CleanStart is ignored).
	Batches, Batch int
	Adversarial    bool
	Attack         pgd.Config
	Seed           uint64
}

// Running returns the running statistics of the BN layers and branches
// that c selects (Prefix and Branches), in the model's NormState order.
func Running(m nn.Model, c Config) ([]Layer, error) {
	state := m.NormState()
	if len(state) == 0 {
		return nil, fmt.Errorf("%s has no BN layer (GN and no normalization keep no statistics)", m.Spec().Model)
	}
	names := map[string]bool{}
	for _, st := range state {
		names[st.Name] = true
	}
	prefix := strings.TrimSuffix(c.Prefix, ".")
	var out []Layer
	for _, st := range state {
		l := Layer{Layer: st.Name, Branch: BranchBN, Channels: len(st.Mean)}
		if base, ok := strings.CutSuffix(st.Name, ".adv"); ok && names[base] {
			l.Layer, l.Branch = base, BranchAdv
		} else if names[st.Name+".adv"] {
			l.Branch = BranchClean
		}
		if prefix != "" && l.Layer != prefix && !strings.HasPrefix(l.Layer, prefix+".") {
			continue
		}
		if l.Branch != BranchBN && c.Branches != nil && !hasBranch(c.Branches, branchOf(l.Branch)) {
			continue
		}
		l.RunningMean = append([]float32(nil), st.Mean...)
		l.RunningVar = append([]float32(nil), st.Var...)
		out = append(out, l)
	}
	if len(out) == 0 {
		var all []string
		for _, st := range state {
			if !strings.HasSuffix(st.Name, ".adv") || !names[strings.TrimSuffix(st.Name, ".adv")] {
				all = append(all, st.Name)
			}
		}
		return nil, fmt.Errorf("no BN layer of %s matches %q (layers: %s)", m.Spec().Model, c.Prefix, strings.Join(all, ", "))
	}
	return out, nil
}

func branchOf(name string) nn.Branch {
	if name == BranchAdv {
		return nn.Adv
	}
	return nn.Clean
}

func hasBranch(bs []nn.Branch, b nn.Branch) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

// Collect measures the running statistics of m's BN layers that c
// selects and, if c.Batches > 0, their batch statistics on the test set
// d. The forward passes normalize with batch statistics without updating
// the running ones (Mode{Norm: BatchStats, UpdateStats: false}); the
// model must implement nn.BatchStatser (the interpreter does).
func Collect(m nn.Model, d *data.Dataset, c Config) (*Report, error) {
	layers, err := Running(m, c)
	if err != nil {
		return nil, err
	}
	r := &Report{Model: m.Spec().Model, Layers: layers}
	if c.Batches <= 0 {
		return r, nil
	}
	bs, ok := m.(nn.BatchStatser)
	if !ok {
		return nil, errors.New("diag: the model does not report batch statistics (use the interpreter)")
	}
	if c.Batch < 1 {
		return nil, fmt.Errorf("diag: batch %d must be >= 1", c.Batch)
	}
	if d == nil || d.Len() == 0 {
		return nil, errors.New("diag: no test images")
	}
	if c.Adversarial && d.Classes < 2 && c.Attack.Loss == pgd.Targeted {
		return nil, fmt.Errorf("diag: a targeted attack needs 2 classes or more, %s has %d", d.Name, d.Classes)
	}
	r.Data, r.Batch = d.Name, c.Batch
	if c.Adversarial {
		r.Adversarial, r.Seed = true, c.Seed
		att := c.Attack
		r.Attack = &Attack{Loss: att.Loss.String(), Eps: att.Eps, Step: att.EffectiveStep(), Steps: att.Steps, Norm: att.Norm.String()}
	}
	// The branches to run the batches through: each measured MBN branch
	// its own pass; plain BN layers take their statistics from the first.
	var passes []nn.Branch
	for _, l := range layers {
		if b := branchOf(l.Branch); l.Branch != BranchBN && !hasBranch(passes, b) {
			passes = append(passes, b)
		}
	}
	if len(passes) == 0 {
		passes = []nn.Branch{nn.Clean}
		if len(c.Branches) > 0 {
			passes[0] = c.Branches[0]
		}
	}
	index := map[string]int{} // NormState name -> layers index
	for i := range layers {
		index[layers[i].Name()] = i
	}
	sumMean := make([][]float64, len(layers))
	sumVar := make([][]float64, len(layers))
	weight := make([]float64, len(layers))
	for i, l := range layers {
		sumMean[i] = make([]float64, l.Channels)
		sumVar[i] = make([]float64, l.Channels)
	}
	x0 := nn.NewTensor(c.Batch, d.C, d.H, d.W)
	y := make([]int, c.Batch)
	idx := make([]int, c.Batch)
	for k := 0; k < c.Batches; k++ {
		lo := k * c.Batch
		if lo >= d.Len() {
			break
		}
		b := min(c.Batch, d.Len()-lo)
		for i := range b {
			idx[i] = lo + i
		}
		x := &nn.Tensor{Shape: []int{b, d.C, d.H, d.W}, Data: x0.Data[:b*d.C*d.H*d.W]}
		d.Batch(idx[:b], x.Data, y[:b])
		r.Batches++
		r.Images += b
		for _, br := range passes {
			in := x
			if c.Adversarial {
				att := c.Attack
				att.Branch, att.CleanStart = br, 0
				a := pgd.New(att, rand.New(rand.NewPCG(c.Seed, uint64(lo)<<1|uint64(br))))
				in, _ = a.Attack(m, x, y[:b], d.Classes)
			}
			logits := m.Forward(in, nn.Mode{Norm: nn.BatchStats, Branch: br, UpdateStats: false})
			if j := nn.FirstNonFinite(logits.Data); j >= 0 {
				return nil, fmt.Errorf("diag: the logits of %s test image %d (batch %d, branch %s) are not finite: the statistics would be meaningless",
					r.ImageKind(), lo+j/logits.Shape[1], k+1, br)
			}
			for _, st := range bs.BatchStats() {
				i, ok := index[st.Name]
				if !ok || st.Mean == nil {
					continue
				}
				want := branchOf(layers[i].Branch)
				if layers[i].Branch == BranchBN {
					want = passes[0]
				}
				if br != want {
					continue
				}
				for ch := range sumMean[i] {
					sumMean[i][ch] += float64(b) * float64(st.Mean[ch])
					sumVar[i][ch] += float64(b) * float64(st.Var[ch])
				}
				weight[i] += float64(b)
			}
		}
	}
	for i := range layers {
		if weight[i] == 0 {
			return nil, fmt.Errorf("diag: %s: no batch statistics after %d batches", layers[i].Name(), r.Batches)
		}
		layers[i].BatchMean = make([]float32, layers[i].Channels)
		layers[i].BatchVar = make([]float32, layers[i].Channels)
		for ch := range layers[i].BatchMean {
			layers[i].BatchMean[ch] = float32(sumMean[i][ch] / weight[i])
			layers[i].BatchVar[ch] = float32(sumVar[i][ch] / weight[i])
		}
	}
	return r, nil
}

// WriteJSON writes the report as one indented JSON object, each layer
// on a line of its own.
func (r *Report) WriteJSON(w io.Writer) error {
	head := *r
	head.Layers = nil
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	b, ok := bytes.CutSuffix(b, []byte("null\n}"))
	if !ok { // Layers is the last field
		return errors.New("diag: unexpected JSON of a report")
	}
	b = append(b, '[')
	for i := range r.Layers {
		l, err := json.Marshal(&r.Layers[i])
		if err != nil {
			return err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = append(b, l...)
	}
	if len(r.Layers) > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "]\n}\n"...)
	_, err = w.Write(b)
	return err
}

// WriteCSV writes one row per layer, branch and channel:
// layer,branch,channel,running_mean,running_var[,batch_mean,batch_var].
func (r *Report) WriteCSV(w io.Writer) error {
	batch := r.hasBatch()
	cw := csv.NewWriter(w)
	head := []string{"layer", "branch", "channel", "running_mean", "running_var"}
	if batch {
		head = append(head, "batch_mean", "batch_var")
	}
	cw.Write(head)
	f := func(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }
	for _, l := range r.Layers {
		for ch := range l.Channels {
			row := []string{l.Layer, l.Branch, strconv.Itoa(ch), f(l.RunningMean[ch]), f(l.RunningVar[ch])}
			if batch {
				row = append(row, f(l.BatchMean[ch]), f(l.BatchVar[ch]))
			}
			cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the report for people: a heading, then per layer and
// branch one line per channel.
func (r *Report) WriteTable(out io.Writer) error {
	w := bufio.NewWriter(out)
	batch := r.hasBatch()
	fmt.Fprintf(w, "%s", r.Model)
	if r.Checkpoint != "" {
		fmt.Fprintf(w, " (%s)", r.Checkpoint)
	}
	var layers []string
	for _, l := range r.Layers {
		if !slices.Contains(layers, l.Layer) {
			layers = append(layers, l.Layer)
		}
	}
	fmt.Fprintf(w, ": running statistics of %d BN layer", len(layers))
	if len(layers) != 1 {
		fmt.Fprint(w, "s")
	}
	if batch {
		batches := "1 batch"
		if r.Batches != 1 {
			batches = fmt.Sprintf("%d batches", r.Batches)
		}
		fmt.Fprintf(w, "; batch statistics of %d %s test images in %s of up to %d (%s)", r.Images, r.ImageKind(), batches, r.Batch, r.Data)
		if a := r.Attack; a != nil {
			fmt.Fprintf(w, ", %s PGD-%d, eps %.4g, step %.4g, attack BN statistics %s", a.Loss, a.Steps, a.Eps, a.Step, a.Norm)
		}
	}
	fmt.Fprintln(w)
	for _, l := range r.Layers {
		fmt.Fprintf(w, "\n%s [%s], %d channels\n", l.Layer, l.Branch, l.Channels)
		fmt.Fprintf(w, "  %7s %13s %13s", "channel", "running_mean", "running_var")
		if batch {
			fmt.Fprintf(w, " %13s %13s", "batch_mean", "batch_var")
		}
		fmt.Fprintln(w)
		for ch := range l.Channels {
			fmt.Fprintf(w, "  %7d %13.6g %13.6g", ch, l.RunningMean[ch], l.RunningVar[ch])
			if batch {
				fmt.Fprintf(w, " %13.6g %13.6g", l.BatchMean[ch], l.BatchVar[ch])
			}
			fmt.Fprintln(w)
		}
	}
	return w.Flush()
}

// ImageKind is "clean" or "adversarial".
func (r *Report) ImageKind() string {
	if r.Adversarial {
		return "adversarial"
	}
	return "clean"
}

// hasBatch reports whether every layer has batch statistics.
func (r *Report) hasBatch() bool {
	if len(r.Layers) == 0 {
		return false
	}
	for _, l := range r.Layers {
		if l.BatchMean == nil {
			return false
		}
	}
	return true
}

// Validate checks that a report read back (for plotting) is well formed:
// it has layers, and every statistic has one value per channel.
func (r *Report) Validate() error {
	if len(r.Layers) == 0 {
		return errors.New("no layers (not a `netc stats --json` output?)")
	}
	for _, l := range r.Layers {
		if l.Layer == "" {
			return errors.New("a layer has no name")
		}
		if l.Channels <= 0 || len(l.RunningMean) != l.Channels || len(l.RunningVar) != l.Channels {
			return fmt.Errorf("%s [%s]: %d channels but %d running means and %d running variances", l.Layer, l.Branch, l.Channels, len(l.RunningMean), len(l.RunningVar))
		}
		if (l.BatchMean != nil || l.BatchVar != nil) && (len(l.BatchMean) != l.Channels || len(l.BatchVar) != l.Channels) {
			return fmt.Errorf("%s [%s]: %d channels but %d batch means and %d batch variances", l.Layer, l.Branch, l.Channels, len(l.BatchMean), len(l.BatchVar))
		}
	}
	return nil
}
