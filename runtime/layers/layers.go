// Package layers holds the layer operations that the models netc compiles
// call in a straight line: each runs the kernels of package kernels on
// buffers the compiled code hands it (blocked NCHW16c activations, see
// kernels.ToBlocked), so a compiled model computes exactly what the
// interpreter's kernel path computes.
package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/spec"
)

// Eps is the variance epsilon of every BN and GN layer; Momentum the
// running-statistics momentum of BN. Both equal the interpreter's.
const (
	Eps      = 1e-5
	Momentum = 0.1
)

// Pass is the state of one forward and backward pass.
type Pass struct {
	ISA  kernels.ISA
	N    int // images
	Mode nn.Mode
	// All is set when the backward computes parameter gradients.
	All bool
}

// CanFold reports whether a forward in mode over n images may fold frozen
// BN into the convolutions: running statistics, input gradient only, one
// MBN branch for the whole batch.
func CanFold(mode nn.Mode, n int) bool {
	return mode.InputOnly && mode.Norm == nn.RunningStats && (mode.Split == 0 || mode.Split == n)
}

// Arena is one run-time buffer for every activation and gradient of a
// model, laid out by the compiler's liveness plan in floats per image.
type Arena struct{ buf []float32 }

// Reset sizes the arena for n images of perImage floats each.
func (a *Arena) Reset(n, perImage int) {
	if cap(a.buf) < n*perImage {
		a.buf = make([]float32, n*perImage)
	}
	a.buf = a.buf[:n*perImage]
}

// At is the buffer of size floats per image at per-image offset off.
func (a *Arena) At(p *Pass, off, size int) []float32 {
	return a.buf[off*p.N : (off+size)*p.N]
}

// Input normalizes pixels per channel, y = x/std − mean/std, and blocks
// them unless the channels are not a multiple of kernels.Block.
type Input struct {
	C, HW        int
	Scale, Shift []float32
	plain        []float32
}

// NewInput is the input layer of a spec.
func NewInput(s *spec.Spec) Input {
	in := Input{C: s.Input[0], HW: s.Input[1] * s.Input[2]}
	for c := range in.C {
		in.Scale = append(in.Scale, float32(1/s.Std[c]))
		in.Shift = append(in.Shift, float32(-s.Mean[c]/s.Std[c]))
	}
	return in
}

// Blocked reports whether the layer's output is blocked.
func (in *Input) Blocked() bool { return in.C%kernels.Block == 0 }

// Forward normalizes x into y.
func (in *Input) Forward(p *Pass, x, y []float32) {
	if !in.Blocked() {
		ref.ChannelAffine(p.N, in.C, in.HW, x, in.Scale, in.Shift, y)
		return
	}
	in.plain = grow(in.plain, len(y))
	ref.ChannelAffine(p.N, in.C, in.HW, x, in.Scale, in.Shift, in.plain)
	kernels.ToBlocked(p.N, in.C, in.HW, in.plain, y)
}

// Backward maps the gradient dy of the output to dx, that of the pixels
// (plain NCHW); dx may be dy.
func (in *Input) Backward(p *Pass, dy, dx []float32) {
	if in.Blocked() {
		in.plain = grow(in.plain, len(dy))
		kernels.FromBlocked(p.N, in.C, in.HW, dy, in.plain)
		dy = in.plain
	}
	ref.ChannelAffine(p.N, in.C, in.HW, dy, in.Scale, nil, dx)
}

// Conv is a convolution without bias, of per-image shape C×H×W to K
// channels with an R×R kernel.
type Conv struct {
	C, H, W, K, R, Stride, Pad int
	Weight, Grad               []float32 // K×C×R×R
	// Special, if not nil, are forward kernels specialized to the
	// shape (see kernels.ConvForwardSpecial), from a compiled model.
	Special *kernels.Special

	packed, folded, bias, scale []float32
	packedOK, foldedOK          bool // for the current weights
	foldedBranch                nn.Branch
}

// fresh forgets the weights derived from the parameters unless the pass
// promises they did not change.
func (c *Conv) fresh(p *Pass) {
	if !p.Mode.SameWeights {
		c.packedOK, c.foldedOK = false, false
	}
}

// Shape is the convolution over n images.
func (c *Conv) Shape(n int) ref.Conv {
	return ref.Conv{N: n, C: c.C, H: c.H, W: c.W, K: c.K, R: c.R, S: c.R, Stride: c.Stride, Pad: c.Pad}
}

// Forward computes y = conv(x).
func (c *Conv) Forward(p *Pass, x, y []float32) {
	s := c.Shape(p.N)
	c.fresh(p)
	if !c.packedOK {
		c.packed = grow(c.packed, kernels.WeightsLen(s))
		kernels.PackWeights(s, c.Weight, c.packed)
		c.packedOK = true
	}
	kernels.ConvForwardSpecial(p.ISA, s, x, c.packed, y, kernels.Epilogue{}, c.Special)
}

// FoldedForward computes y = bn(conv(x)) [+ res] [then ReLU] with bn's
// frozen statistics folded into the weights and a bias: weights scaled
// per output channel by γ/σ, bias β − μγ/σ.
func (c *Conv) FoldedForward(p *Pass, x []float32, bn *Norm, res, y []float32, relu bool) {
	s := c.Shape(p.N)
	br := p.Mode.Branch
	if !bn.branched() || p.Mode.Split == p.N && p.N > 0 {
		br = nn.Clean
	}
	c.fresh(p)
	if !c.foldedOK || c.foldedBranch != br {
		c.fold(s, bn, br)
	}
	kernels.ConvForwardSpecial(p.ISA, s, x, c.folded, y, kernels.Epilogue{Bias: c.bias, ReLU: relu, Residual: res}, c.Special)
}

// fold computes the folded weights and bias of branch br.
func (c *Conv) fold(s ref.Conv, bn *Norm, br nn.Branch) {
	gamma, beta := bn.Weight[br], bn.Bias[br]
	mean, variance := bn.RunMean[br], bn.RunVar[br]
	c.bias = grow(c.bias, c.K)
	c.scale = grow(c.scale, c.K)
	for k := range c.K {
		sc := float64(gamma[k]) / math.Sqrt(float64(variance[k])+Eps) // γ/σ
		c.scale[k] = float32(sc)
		c.bias[k] = float32(float64(beta[k]) - float64(mean[k])*sc)
	}
	c.folded = grow(c.folded, kernels.WeightsLen(s))
	kernels.PackWeights(s, c.Weight, c.folded)
	per := len(c.folded) / (c.K / kernels.Block) // packed floats per output block
	for i := range c.folded {
		c.folded[i] *= c.scale[i/per*kernels.Block+i%kernels.Block]
	}
	c.foldedOK, c.foldedBranch = true, br
}

// Backward computes dx, the gradient of x, from dy; with p.All it also
// overwrites Grad.
func (c *Conv) Backward(p *Pass, x, dy, dx []float32) {
	s := c.Shape(p.N)
	if p.All {
		kernels.ConvBackwardWeight(p.ISA, s, x, dy, c.Grad)
	}
	kernels.ConvBackwardData(p.ISA, s, dy, c.packed, dx)
}

// FoldedBackward computes dx from dy after a FoldedForward (dy is the
// gradient of the folded conv's output before any ReLU or residual).
func (c *Conv) FoldedBackward(p *Pass, dy, dx []float32) {
	kernels.ConvBackwardData(p.ISA, c.Shape(p.N), dy, c.folded, dx)
}

// Norm is a norm layer over C channels of HW pixels: BN or Mixture BN
// (its kind's descriptor has running statistics) or GN (statistics per
// image). Weight, Bias and their gradients are per MBN branch (BN and GN
// use branch 0 only), as are BN's running statistics.
type Norm struct {
	Kind                 spec.NormKind
	Share                spec.Share // MBN: what the branches share
	C, HW, Groups        int
	Weight, Bias         [2][]float32
	WeightGrad, BiasGrad [2][]float32
	RunMean, RunVar      [2][]float32

	mean, variance [2][]float32 // batch statistics of the last forward
	gnMean, gnRstd []float32
	scratch        []float32 // backward of shared statistics or affine parameters
}

// part is a contiguous run of images normalized with one branch.
type part struct {
	lo, hi int
	br     nn.Branch
}

// BatchStats returns the per-channel batch mean and variance that the
// last Forward with batch statistics computed for branch br (nil before
// any). They are the layer's own buffers, overwritten by the next such
// Forward through br.
func (b *Norm) BatchStats(br nn.Branch) (mean, variance []float32) {
	return b.mean[br], b.variance[br]
}

// norm is the layer's spec.Norm, whose descriptor says what it does.
func (b *Norm) norm() spec.Norm { return spec.Norm{Kind: b.Kind, Groups: b.Groups, Share: b.Share} }

// branched reports whether the layer has a branch per kind of image
// (Mixture BN).
func (b *Norm) branched() bool { return b.Kind.Info().Branches > 1 }

// perImage reports whether the layer normalizes each image over groups
// of channels (GN), and panics for a kind whose statistics the kernels
// do not compute.
func (b *Norm) perImage() bool {
	d := b.Kind.Info()
	if d.PerImage == d.RunningStats {
		panic(fmt.Sprintf("layers: no kernels for norm %s", d.Name))
	}
	return d.PerImage
}

// parts splits the batch by MBN branch.
func (b *Norm) parts(p *Pass) []part {
	if !b.branched() {
		return []part{{0, p.N, nn.Clean}}
	}
	if s := p.Mode.Split; s > 0 {
		if s == p.N {
			return []part{{0, s, nn.Clean}}
		}
		return []part{{0, s, nn.Clean}, {s, p.N, nn.Adv}}
	}
	return []part{{0, p.N, p.Mode.Branch}}
}

// Forward normalizes x into y, then clamps y at zero if relu.
func (b *Norm) Forward(p *Pass, x, y []float32, relu bool) {
	c, hw := b.C, b.HW
	if b.perImage() {
		b.gnMean = grow(b.gnMean, p.N*b.Groups)
		b.gnRstd = grow(b.gnRstd, p.N*b.Groups)
		kernels.GNForward(p.ISA, p.N, c, hw, b.Groups, x, Eps, b.Weight[0], b.Bias[0], relu, y, b.gnMean, b.gnRstd)
		return
	}
	if b.Share == spec.ShareStats && p.Mode.Norm == nn.BatchStats {
		// Statistics of the whole batch, then each part's affine.
		b.mean[0], b.variance[0] = grow(b.mean[0], c), grow(b.variance[0], c)
		b.mean[1], b.variance[1] = b.mean[0], b.variance[0]
		kernels.BNStats(p.ISA, p.N, c, hw, x, b.mean[0], b.variance[0])
		if p.Mode.UpdateStats {
			ref.UpdateRunning(float32(Momentum), p.N*hw, b.RunMean[0], b.RunVar[0], b.mean[0], b.variance[0])
		}
		for _, pt := range b.parts(p) {
			lo, hi := pt.lo*c*hw, pt.hi*c*hw
			kernels.BNApply(p.ISA, pt.hi-pt.lo, c, hw, x[lo:hi], b.mean[0], b.variance[0], Eps, b.Weight[pt.br], b.Bias[pt.br], relu, y[lo:hi])
		}
		return
	}
	for _, pt := range b.parts(p) {
		nimg := pt.hi - pt.lo
		xs, ys := x[pt.lo*c*hw:pt.hi*c*hw], y[pt.lo*c*hw:pt.hi*c*hw]
		mean, variance := b.RunMean[pt.br], b.RunVar[pt.br]
		if p.Mode.Norm == nn.BatchStats {
			b.mean[pt.br] = grow(b.mean[pt.br], c)
			b.variance[pt.br] = grow(b.variance[pt.br], c)
			mean, variance = b.mean[pt.br], b.variance[pt.br]
			kernels.BNStats(p.ISA, nimg, c, hw, xs, mean, variance)
			if p.Mode.UpdateStats {
				ref.UpdateRunning(float32(Momentum), nimg*hw, b.RunMean[pt.br], b.RunVar[pt.br], mean, variance)
			}
		}
		kernels.BNApply(p.ISA, nimg, c, hw, xs, mean, variance, Eps, b.Weight[pt.br], b.Bias[pt.br], relu, ys)
	}
}

// Backward computes dx from dy through the layer and, if mask (its
// output after the ReLU) is not nil, through the ReLU; with p.All it
// also overwrites the affine parameters' gradients.
func (b *Norm) Backward(p *Pass, x, mask, dy, dx []float32) {
	c, hw := b.C, b.HW
	grads := func(br nn.Branch) (dg, db []float32) {
		if p.All {
			return b.WeightGrad[br], b.BiasGrad[br]
		}
		return nil, nil
	}
	if b.perImage() {
		dg, db := grads(nn.Clean)
		kernels.GNBackward(p.ISA, p.N, c, hw, b.Groups, x, dy, mask, b.gnMean, b.gnRstd, b.Weight[0], dx, dg, db)
		return
	}
	frozen := p.Mode.Norm != nn.BatchStats
	parts := b.parts(p)
	// Parts that share affine parameters add their gradients.
	shared := b.Share == spec.ShareAffine && len(parts) > 1 && p.All
	wholeBatch := b.Share == spec.ShareStats && !frozen
	if shared || wholeBatch {
		// dγ, dβ of a part, then γ·dy of the batch, ones and zeros.
		b.scratch = grow(b.scratch, 4*c+len(dy))
		clear(b.scratch[:4*c])
	}
	scratch := b.scratch
	if shared {
		clear(b.WeightGrad[0])
		clear(b.BiasGrad[0])
	}
	for _, pt := range parts {
		lo, hi := pt.lo*c*hw, pt.hi*c*hw
		var pm []float32
		if mask != nil {
			pm = mask[lo:hi]
		}
		mean, variance := b.mean[pt.br], b.variance[pt.br]
		if frozen {
			mean, variance = b.RunMean[pt.br], b.RunVar[pt.br]
		}
		dg, db := grads(pt.br)
		if shared {
			dg, db = scratch[:c], scratch[c:2*c]
		}
		// With statistics of the whole batch, each part's affine
		// gradients are those of fixed statistics; dx comes below.
		kernels.BNBackward(p.ISA, pt.hi-pt.lo, c, hw, x[lo:hi], dy[lo:hi], pm, mean, variance, Eps, b.Weight[pt.br], frozen || wholeBatch, dx[lo:hi], dg, db)
		if shared {
			kernels.Add(p.ISA, b.WeightGrad[0], dg, b.WeightGrad[0])
			kernels.Add(p.ISA, b.BiasGrad[0], db, b.BiasGrad[0])
		}
	}
	if wholeBatch {
		// dx of the whole batch's statistics, each part's γ folded into
		// its dy.
		ones, zeros, g := scratch[2*c:3*c], scratch[3*c:4*c], scratch[4*c:]
		for i := range ones {
			ones[i] = 1
		}
		for _, pt := range parts {
			lo, hi := pt.lo*c*hw, pt.hi*c*hw
			kernels.Affine(p.ISA, pt.hi-pt.lo, c, hw, dy[lo:hi], b.Weight[pt.br], zeros, false, false, g[lo:hi])
		}
		kernels.BNBackward(p.ISA, p.N, c, hw, x, g, mask, b.mean[0], b.variance[0], Eps, ones, false, dx, nil, nil)
	}
}

var ones, zeros [kernels.Block]float32

func init() {
	for i := range ones {
		ones[i] = 1
	}
}

// ReLU computes y = max(x, 0) on blocked x.
func ReLU(p *Pass, x, y []float32) {
	kernels.Affine(p.ISA, 1, kernels.Block, len(y)/kernels.Block, x, ones[:], zeros[:], false, true, y)
}

// ReLUBackward computes dx = dy where y > 0, else 0.
func ReLUBackward(p *Pass, y, dy, dx []float32) { kernels.ReLUBackward(p.ISA, y, dy, dx) }

// Add computes y = a + b.
func Add(p *Pass, a, b, y []float32) { kernels.Add(p.ISA, a, b, y) }

// MaxPool is a square max-pooling window over C×H×W inputs.
type MaxPool struct {
	C, H, W, K, Stride, Pad int
	arg                     []int32
}

// Forward pools x into y, keeping each maximum's position.
func (m *MaxPool) Forward(p *Pass, x, y []float32) {
	m.arg = grow(m.arg, len(y))
	kernels.MaxPool(p.N, m.C, m.H, m.W, m.K, m.Stride, m.Pad, x, y, m.arg)
}

// Backward routes dy to the maxima's positions in dx.
func (m *MaxPool) Backward(p *Pass, dy, dx []float32) {
	kernels.MaxPoolBackward(p.N, m.C, m.H, m.W, m.K, m.Stride, m.Pad, dy, m.arg, dx)
}

// AvgPool averages each channel of blocked x (c channels of hw pixels per
// image) into y (c values per image).
func AvgPool(p *Pass, c, hw int, x, y []float32) {
	for b := range p.N * c / kernels.Block {
		var s [kernels.Block]float64
		for i := range hw {
			for j, v := range x[(b*hw+i)*kernels.Block:][:kernels.Block] {
				s[j] += float64(v)
			}
		}
		for j := range s {
			y[b*kernels.Block+j] = float32(s[j] / float64(hw))
		}
	}
}

// AvgPoolBackward spreads dy evenly over the pixels of blocked dx.
func AvgPoolBackward(p *Pass, c, hw int, dy, dx []float32) {
	for b := range p.N * c / kernels.Block {
		for i := range hw {
			for j := range kernels.Block {
				dx[(b*hw+i)*kernels.Block+j] = dy[b*kernels.Block+j] / float32(hw)
			}
		}
	}
}

// Linear is the fully connected classifier y = x·Wᵀ + b.
type Linear struct {
	In, Out                            int
	Weight, Bias, WeightGrad, BiasGrad []float32
}

// Forward computes y from x.
func (l *Linear) Forward(p *Pass, x, y []float32) {
	ref.Linear(p.N, l.In, l.Out, x, l.Weight, l.Bias, y)
}

// Backward computes dx and, with p.All, the parameters' gradients.
func (l *Linear) Backward(p *Pass, x, dy, dx []float32) {
	var dw, db []float32
	if p.All {
		dw, db = l.WeightGrad, l.BiasGrad
	}
	ref.LinearBackward(p.N, l.In, l.Out, x, l.Weight, dy, dx, dw, db)
}

// Params collects a model's parameters and running statistics in the
// graph's order, allocating them, and initializes them as the
// interpreter does.
type Params struct {
	List  []*nn.Param
	Stats []*nn.NormStats
	inits []compiler.Init
}

// Tensor adds a parameter and returns its value and gradient.
func (ps *Params) Tensor(name string, init compiler.Init, decay, norm bool, shape ...int) (value, grad []float32) {
	v, g := nn.NewTensor(shape...), nn.NewTensor(shape...)
	ps.List = append(ps.List, &nn.Param{Name: name, Value: v, Grad: g, Decay: decay, Norm: norm})
	ps.inits = append(ps.inits, init)
	return v.Data, g.Data
}

// Conv adds a convolution's weight.
func (ps *Params) Conv(name string, c *Conv) {
	c.Weight, c.Grad = ps.Tensor(name+".weight", compiler.HeFanOut, true, false, c.K, c.C, c.R, c.R)
}

// Norm adds a norm layer's affine parameters (per branch for MBN) and
// running statistics (BN and MBN), in the interpreter's order.
func (ps *Params) Norm(name string, b *Norm, zeroInit bool) {
	gamma := compiler.Ones
	if zeroInit {
		gamma = compiler.Zeros
	}
	for br := range nn.Branch(b.norm().AffineSets()) {
		prefix := compiler.BranchName(name, int(br))
		b.Weight[br], b.WeightGrad[br] = ps.Tensor(prefix+".weight", gamma, false, true, b.C)
		b.Bias[br], b.BiasGrad[br] = ps.Tensor(prefix+".bias", compiler.Zeros, false, true, b.C)
	}
	if b.Share == spec.ShareAffine { // one set of affine parameters
		b.Weight[1], b.Bias[1], b.WeightGrad[1], b.BiasGrad[1] = b.Weight[0], b.Bias[0], b.WeightGrad[0], b.BiasGrad[0]
	}
	for br := range b.RunMean {
		b.RunMean[br] = make([]float32, b.C)
		b.RunVar[br] = make([]float32, b.C)
		for i := range b.RunVar[br] {
			b.RunVar[br][i] = 1
		}
	}
	if b.Share == spec.ShareStats { // one set of statistics
		b.RunMean[1], b.RunVar[1] = b.RunMean[0], b.RunVar[0]
	}
	ps.Stats = append(ps.Stats, normStats(name, b)...)
}

// Linear adds the classifier's weight and bias.
func (ps *Params) Linear(name string, l *Linear) {
	l.Weight, l.WeightGrad = ps.Tensor(name+".weight", compiler.Normal001, true, false, l.Out, l.In)
	l.Bias, l.BiasGrad = ps.Tensor(name+".bias", compiler.Zeros, false, false, l.Out)
}

// Init draws every parameter from seed, as the interpreter does.
func (ps *Params) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6e657463))
	for i, p := range ps.List {
		v := p.Value.Data
		switch ps.inits[i] {
		case compiler.Ones:
			for j := range v {
				v[j] = 1
			}
		case compiler.HeFanOut:
			std := math.Sqrt(2 / float64(p.Value.Shape[0]*p.Value.Shape[2]*p.Value.Shape[3]))
			for j := range v {
				v[j] = float32(rng.NormFloat64() * std)
			}
		case compiler.Normal001:
			for j := range v {
				v[j] = float32(rng.NormFloat64() * 0.01)
			}
		}
	}
}

// normStats lists the running statistics of norm layer name: a set per
// branch unless they share one (named by compiler.BranchName); none for
// a kind without running statistics.
func normStats(name string, b *Norm) []*nn.NormStats {
	var s []*nn.NormStats
	for br := range b.norm().StatSets() {
		s = append(s, &nn.NormStats{Name: compiler.BranchName(name, int(br)), Mean: b.RunMean[br], Var: b.RunVar[br], Momentum: Momentum})
	}
	return s
}

// CheckInput panics unless x is a batch of in's images.
func CheckInput(x *nn.Tensor, c, h, w int) {
	if len(x.Shape) != 4 || x.Shape[1] != c || x.Shape[2] != h || x.Shape[3] != w || len(x.Data) != x.Shape[0]*c*h*w {
		panic(fmt.Sprintf("input shape %v, want [N %d %d %d]", x.Shape, c, h, w))
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
