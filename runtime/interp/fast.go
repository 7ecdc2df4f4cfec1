package interp

import (
	"math"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/spec"
)

// fast runs a float32 Net on the kernels of package kernels: activations
// are blocked (NCHW16c, see kernels.ToBlocked) except the network's input
// when its channels are not a multiple of 16 (the stem reads it plain);
// the outputs of pooling and linear layers have one pixel, where blocked
// and plain agree. Parameters, gradients and norm statistics are the
// Net's own, in its layouts, so checkpoints and optimizers see no
// difference. A ReLU that is a norm layer's only consumer is computed by
// the norm layer (forward and backward).
type fast struct {
	*Net[float32]
	isa    kernels.ISA
	packed map[int][]float32 // packed weights by conv node ID
	fused  []bool            // ReLU node computed by its input norm layer
	reluOf []*compiler.Node  // by norm node ID: the ReLU it computes, or nil
	plainX []float32         // normalized input before blocking
	scale  []float32         // folded BN scale per channel

	// Folding frozen BN into convolutions (Forward with InputOnly and
	// running statistics): the plan per conv node, the nodes a folded
	// conv computes, the folded weights, and whether the last Forward
	// folded.
	folds   map[int]fold
	folded  []bool
	wFold   map[int][]float32
	bias    map[int][]float32
	didFold bool
}

// fold is a conv whose BN folds into it: the conv writes out's buffer,
// adding the residual res's output (or nil) and clamping at zero if relu.
type fold struct {
	norm, out, res *compiler.Node
	relu           bool
}

// fastSupports reports whether every tensor of g but the input and the
// logits has a multiple of 16 channels.
func fastSupports(g *compiler.Graph) bool {
	for _, nd := range g.Nodes[1:] {
		if nd.C%kernels.Block != 0 && nd.Op != compiler.Linear {
			return false
		}
	}
	return true
}

func newFast(net *Net[float32], isa kernels.ISA) *fast {
	g := net.g
	f := &fast{Net: net, isa: isa, packed: map[int][]float32{}, fused: make([]bool, len(g.Nodes)), reluOf: make([]*compiler.Node, len(g.Nodes))}
	net.add = func(a, b, y []float32) { kernels.Add(isa, a, b, y) }
	users := make([][]*compiler.Node, len(g.Nodes))
	for _, nd := range g.Nodes {
		for _, in := range nd.In {
			users[in.ID] = append(users[in.ID], nd)
		}
	}
	// only is nd's one consumer, or nil.
	only := func(nd *compiler.Node) *compiler.Node {
		if len(users[nd.ID]) == 1 {
			return users[nd.ID][0]
		}
		return nil
	}
	for _, nd := range g.Nodes {
		if nd.Op == compiler.ReLU && nd.In[0].Op == compiler.Norm && only(nd.In[0]) == nd {
			f.fused[nd.ID], f.reluOf[nd.In[0].ID] = true, nd
		}
	}
	f.folds, f.folded = map[int]fold{}, make([]bool, len(g.Nodes))
	f.wFold, f.bias = map[int][]float32{}, map[int][]float32{}
	for _, c := range g.Nodes {
		n := only(c)
		if c.Op != compiler.Conv || n == nil || n.Op != compiler.Norm || n.Norm.Kind == spec.GN {
			continue
		}
		fl := fold{norm: n, out: n}
		if r := only(n); r != nil && r.Op == compiler.ReLU {
			fl.out, fl.relu = r, true
		} else if a := only(n); a != nil && a.Op == compiler.Add {
			other := a.In[0]
			if other == n {
				other = a.In[1]
			}
			// The later input of a residual add carries the add and its
			// ReLU; the earlier one is ready by then.
			if r := only(a); r != nil && r.Op == compiler.ReLU && other.ID < n.ID {
				fl.out, fl.res, fl.relu = r, other, true
				f.folded[a.ID] = true
			}
		}
		f.folds[c.ID] = fl
		f.folded[n.ID] = true
		if fl.relu {
			f.folded[fl.out.ID] = true
		}
	}
	return f
}

// canFold reports whether a Forward in mode may fold BN into convs:
// frozen statistics, no parameter gradients, one branch for the batch.
func (f *fast) canFold(mode runtime.Mode, n int) bool {
	return mode.InputOnly && mode.Norm == runtime.RunningStats && (mode.Split == 0 || mode.Split == n) && len(f.folds) > 0
}

// foldConv runs conv nd with its BN folded in: weights scaled per output
// channel by γ/σ, bias β − μγ/σ, then the fold's residual and ReLU.
func (f *fast) foldConv(nd *compiler.Node, fl fold) {
	m := f.Net
	c := m.conv(nd)
	br := m.parts(fl.norm)[0].branch
	gn, bn := m.affine(fl.norm, br)
	gamma, beta := m.Param(gn), m.Param(bn)
	ns := m.norms[fl.norm.ID]
	mean, variance := ns.runMean[br], ns.runVar[br]
	bias := grow(f.bias[nd.ID], c.K)
	f.bias[nd.ID] = bias
	f.scale = grow(f.scale, c.K)
	scale := f.scale
	for k := range c.K {
		s := float64(gamma[k]) / math.Sqrt(float64(variance[k])+Eps) // γ/σ
		scale[k] = float32(s)
		bias[k] = float32(float64(beta[k]) - float64(mean[k])*s)
	}
	w := grow(f.wFold[nd.ID], kernels.WeightsLen(c))
	f.wFold[nd.ID] = w
	kernels.PackWeights(c, m.Param(nd.Name+".weight"), w)
	per := len(w) / (c.K / kernels.Block) // packed floats per output block
	for i := range w {
		w[i] *= scale[i/per*kernels.Block+i%kernels.Block]
	}
	e := kernels.Epilogue{Bias: bias, ReLU: fl.relu}
	if fl.res != nil {
		e.Residual = m.out[fl.res.ID]
	}
	kernels.ConvForward(f.isa, c, m.out[nd.In[0].ID], w, m.out[fl.out.ID], e)
}

// plainInput reports whether the input node's output stays plain.
func (f *fast) plainInput() bool { return f.g.Nodes[0].C%kernels.Block != 0 }

// Forward is Net.Forward on the kernels.
func (f *fast) Forward(x []float32, n int, mode runtime.Mode) []float32 {
	m := f.Net
	g := m.g
	m.n, m.mode = n, mode
	for _, nd := range g.Nodes {
		m.out[nd.ID] = grow(m.out[nd.ID], n*nd.Size())
	}
	f.didFold = f.canFold(mode, n)
	for _, nd := range g.Nodes {
		y := m.out[nd.ID]
		if f.didFold {
			if f.folded[nd.ID] {
				continue
			}
			if fl, ok := f.folds[nd.ID]; ok {
				f.foldConv(nd, fl)
				continue
			}
		}
		switch nd.Op {
		case compiler.Input:
			if f.plainInput() {
				ref.ChannelAffine(n, nd.C, nd.H*nd.W, x, m.inScale, m.inShift, y)
				break
			}
			f.plainX = grow(f.plainX, len(y))
			ref.ChannelAffine(n, nd.C, nd.H*nd.W, x, m.inScale, m.inShift, f.plainX)
			kernels.ToBlocked(n, nd.C, nd.H*nd.W, f.plainX, y)
		case compiler.Conv:
			c := m.conv(nd)
			w := grow(f.packed[nd.ID], kernels.WeightsLen(c))
			f.packed[nd.ID] = w
			kernels.PackWeights(c, m.Param(nd.Name+".weight"), w)
			kernels.ConvForward(f.isa, c, m.out[nd.In[0].ID], w, y, kernels.Epilogue{})
		case compiler.Norm:
			f.normForward(nd)
		case compiler.ReLU:
			if !f.fused[nd.ID] {
				kernels.Affine(f.isa, 1, kernels.Block, len(y)/kernels.Block, m.out[nd.In[0].ID], ones[:], zeros[:], false, true, y)
			}
		case compiler.Add:
			kernels.Add(f.isa, m.out[nd.In[0].ID], m.out[nd.In[1].ID], y)
		case compiler.MaxPool:
			in := nd.In[0]
			m.arg[nd.ID] = grow(m.arg[nd.ID], len(y))
			kernels.MaxPool(n, in.C, in.H, in.W, nd.Kernel, nd.Stride, nd.Pad, m.out[in.ID], y, m.arg[nd.ID])
		case compiler.AvgPool:
			in := nd.In[0]
			avgPool(n, in.C, in.H*in.W, m.out[in.ID], y)
		case compiler.Linear:
			m.linearForward(nd, y)
		}
	}
	return m.out[len(g.Nodes)-1]
}

var ones, zeros [kernels.Block]float32

func init() {
	for i := range ones {
		ones[i] = 1
	}
}

// avgPool averages each channel of blocked x (n×c×hw) into y (n×c).
func avgPool(n, c, hw int, x, y []float32) {
	for b := range n * c / kernels.Block {
		var s [kernels.Block]float64
		for p := range hw {
			for j, v := range x[(b*hw+p)*kernels.Block:][:kernels.Block] {
				s[j] += float64(v)
			}
		}
		for j := range s {
			y[b*kernels.Block+j] = float32(s[j] / float64(hw))
		}
	}
}

// avgPoolBackward spreads dy (n×c) evenly over the pixels of blocked dx.
func avgPoolBackward(n, c, hw int, dy, dx []float32) {
	for b := range n * c / kernels.Block {
		for p := range hw {
			for j := range kernels.Block {
				dx[(b*hw+p)*kernels.Block+j] = dy[b*kernels.Block+j] / float32(hw)
			}
		}
	}
}

// normOut is where a norm layer writes: its own output, or that of the
// ReLU it computes.
func (f *fast) normOut(nd *compiler.Node) (y []float32, relu *compiler.Node) {
	if r := f.reluOf[nd.ID]; r != nil {
		return f.out[r.ID], r
	}
	return f.out[nd.ID], nil
}

func (f *fast) normForward(nd *compiler.Node) {
	m := f.Net
	x := m.out[nd.In[0].ID]
	y, relu := f.normOut(nd)
	ns := m.norms[nd.ID]
	c, hw := nd.C, nd.H*nd.W
	if nd.Norm.Kind == spec.GN {
		ns.gnMean = grow(ns.gnMean, m.n*nd.Norm.Groups)
		ns.gnRstd = grow(ns.gnRstd, m.n*nd.Norm.Groups)
		kernels.GNForward(f.isa, m.n, c, hw, nd.Norm.Groups, x, Eps, m.Param(nd.Name+".weight"), m.Param(nd.Name+".bias"),
			relu != nil, y, ns.gnMean, ns.gnRstd)
		return
	}
	for _, p := range m.parts(nd) {
		gn, bn := m.affine(nd, p.branch)
		nimg := p.hi - p.lo
		xs, ys := x[p.lo*c*hw:p.hi*c*hw], y[p.lo*c*hw:p.hi*c*hw]
		mean, variance := ns.runMean[p.branch], ns.runVar[p.branch]
		if m.mode.Norm == runtime.BatchStats {
			mean, variance = ns.mean[p.branch], ns.variance[p.branch]
			kernels.BNStats(f.isa, nimg, c, hw, xs, mean, variance)
			if m.mode.UpdateStats {
				ref.UpdateRunning(float32(Momentum), nimg*hw, ns.runMean[p.branch], ns.runVar[p.branch], mean, variance)
			}
		}
		kernels.BNApply(f.isa, nimg, c, hw, xs, mean, variance, Eps, m.Param(gn), m.Param(bn), relu != nil, ys)
	}
}

// Backward is Net.Backward on the kernels.
func (f *fast) Backward(dlogits []float32, want runtime.Grads) {
	m := f.Net
	g := m.g
	if want == runtime.AllGrads && f.didFold {
		panic("interp: Backward with AllGrads after a Forward with Mode.InputOnly")
	}
	all := m.startBackward(dlogits, want)
	n := m.n
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		nd := g.Nodes[i]
		dy := m.nodeGrad(i)
		switch nd.Op {
		case compiler.Input:
			if f.plainInput() {
				ref.ChannelAffine(n, nd.C, nd.H*nd.W, dy, m.inScale, nil, dy)
				break
			}
			f.plainX = grow(f.plainX, len(dy))
			kernels.FromBlocked(n, nd.C, nd.H*nd.W, dy, f.plainX)
			ref.ChannelAffine(n, nd.C, nd.H*nd.W, f.plainX, m.inScale, nil, dy)
		case compiler.Conv:
			in := nd.In[0]
			c := m.conv(nd)
			if all {
				kernels.ConvBackwardWeight(f.isa, c, m.out[in.ID], dy, m.grads[m.pidx[nd.Name+".weight"]])
			}
			w := f.packed[nd.ID]
			if _, ok := f.folds[nd.ID]; ok && f.didFold {
				w = f.wFold[nd.ID]
			}
			kernels.ConvBackwardData(f.isa, c, dy, w, m.target(in))
			m.accumulate(in)
		case compiler.Norm:
			if f.didFold && f.folded[nd.ID] { // scaled into the conv's weights
				f.handOver(nd.In[0], nd.ID, dy)
				break
			}
			f.normBackward(nd, dy, all)
		case compiler.ReLU:
			in := nd.In[0]
			if f.fused[nd.ID] && !f.didFold { // the norm layer takes dy and the mask
				m.grad[in.ID], m.grad[nd.ID] = dy, m.grad[in.ID]
				m.set[in.ID] = true
				break
			}
			kernels.ReLUBackward(f.isa, m.out[nd.ID], dy, m.target(in))
			m.accumulate(in)
		case compiler.Add:
			f.handOver(nd.In[0], i, dy)
			f.handOver(nd.In[1], i, dy)
		case compiler.MaxPool:
			in := nd.In[0]
			kernels.MaxPoolBackward(n, in.C, in.H, in.W, nd.Kernel, nd.Stride, nd.Pad, dy, m.arg[nd.ID], m.target(in))
			m.accumulate(in)
		case compiler.AvgPool:
			in := nd.In[0]
			avgPoolBackward(n, in.C, in.H*in.W, dy, m.target(in))
			m.accumulate(in)
		case compiler.Linear:
			m.linearBackward(nd, dy, all)
		}
	}
}

// handOver passes gradient dy of node i on unchanged to its input in:
// the buffer itself if in has no gradient yet and dy is still i's,
// else a copy added to in's.
func (f *fast) handOver(in *compiler.Node, i int, dy []float32) {
	m := f.Net
	if !m.set[in.ID] && &m.grad[i][0] == &dy[0] {
		m.grad[in.ID], m.grad[i] = dy, m.grad[in.ID]
		m.set[in.ID] = true
		return
	}
	copy(m.target(in), dy)
	m.accumulate(in)
}

// normBackward is the backward pass of a norm layer and of the ReLU it
// may compute.
func (f *fast) normBackward(nd *compiler.Node, dy []float32, all bool) {
	m := f.Net
	in := nd.In[0]
	x := m.out[in.ID]
	dx := m.target(in)
	defer m.accumulate(in)
	var mask []float32
	if y, relu := f.normOut(nd); relu != nil {
		mask = y
	}
	ns := m.norms[nd.ID]
	c, hw := nd.C, nd.H*nd.W
	if nd.Norm.Kind == spec.GN {
		dg, db := m.normGrads(nd, runtime.Clean, all)
		kernels.GNBackward(f.isa, m.n, c, hw, nd.Norm.Groups, x, dy, mask, ns.gnMean, ns.gnRstd, m.Param(nd.Name+".weight"), dx, dg, db)
		return
	}
	frozen := m.mode.Norm != runtime.BatchStats
	for _, p := range m.parts(nd) {
		gn, _ := m.affine(nd, p.branch)
		lo, hi := p.lo*c*hw, p.hi*c*hw
		var pm []float32
		if mask != nil {
			pm = mask[lo:hi]
		}
		mean, variance := ns.mean[p.branch], ns.variance[p.branch]
		if frozen {
			mean, variance = ns.runMean[p.branch], ns.runVar[p.branch]
		}
		dg, db := m.normGrads(nd, p.branch, all)
		kernels.BNBackward(f.isa, p.hi-p.lo, c, hw, x[lo:hi], dy[lo:hi], pm, mean, variance, Eps, m.Param(gn), frozen, dx[lo:hi], dg, db)
	}
}
