// Package interp runs a compiler graph with the reference ops of
// runtime/ref: the oracle that every generated model is checked against,
// and a working Model until one is compiled.
package interp

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/ref"
	"github.com/netc/netc/spec"
)

// Eps is the variance epsilon of every BN and GN layer.
const Eps = 1e-5

// Momentum is the running-statistics momentum of BN (PyTorch's 0.1, the
// IAT's decay 0.9).
const Momentum = 0.1

// Net executes a graph in precision T. Batch size is a run-time dimension:
// buffers grow to the largest batch seen.
type Net[T ref.Float] struct {
	g      *compiler.Graph
	params [][]T // values, in g.Params order
	grads  [][]T
	pidx   map[string]int // parameter name -> index

	norms []*normState[T] // per Norm node ID (nil elsewhere)

	inScale, inShift []T // input normalization: x/std − mean/std
	cv               ref.Convolver[T]
	add              func(a, b, y []T) // y = a + b, for gradients that accumulate

	n    int // batch of the last Forward
	mode nn.Mode
	out  [][]T  // node outputs
	grad [][]T  // gradients of node outputs
	set  []bool // grad[i] written during the current Backward
	tmp  []T    // scratch for gradients that accumulate
	arg  [][]int32
}

// normState holds one norm layer's running statistics (per branch) and what
// its last forward saved for the backward pass (per part of the batch).
type normState[T ref.Float] struct {
	runMean, runVar [2][]T
	mean, variance  [2][]T // batch statistics (BN) of the clean / adversarial part
	gnMean, gnRstd  []T    // GN per image and group
}

// New builds a network with parameters initialized as the IAT does, from
// a seeded generator.
func New[T ref.Float](g *compiler.Graph, rng *rand.Rand) *Net[T] {
	m := &Net[T]{g: g, pidx: map[string]int{}, cv: ref.Reference[T](), add: ref.Add[T]}
	for i, p := range g.Params {
		v := make([]T, p.Size())
		switch p.Init {
		case compiler.Ones:
			for j := range v {
				v[j] = 1
			}
		case compiler.HeFanOut:
			std := math.Sqrt(2 / float64(p.Shape[0]*p.Shape[2]*p.Shape[3]))
			for j := range v {
				v[j] = T(rng.NormFloat64() * std)
			}
		case compiler.Normal001:
			for j := range v {
				v[j] = T(rng.NormFloat64() * 0.01)
			}
		}
		m.params = append(m.params, v)
		m.grads = append(m.grads, make([]T, len(v)))
		m.pidx[p.Name] = i
	}
	for c := range g.Nodes[0].C {
		m.inScale = append(m.inScale, T(1/g.Spec.Std[c]))
		m.inShift = append(m.inShift, T(-g.Spec.Mean[c]/g.Spec.Std[c]))
	}
	m.norms = make([]*normState[T], len(g.Nodes))
	for _, n := range g.Nodes {
		if n.Op != compiler.Norm {
			continue
		}
		ns := &normState[T]{}
		for br := 0; br < 2; br++ {
			ns.runMean[br] = make([]T, n.C)
			ns.runVar[br] = make([]T, n.C)
			for j := range ns.runVar[br] {
				ns.runVar[br][j] = 1
			}
			ns.mean[br] = make([]T, n.C)
			ns.variance[br] = make([]T, n.C)
		}
		if n.Norm.Share == spec.ShareStats { // one set for both branches
			ns.runMean[1], ns.runVar[1] = ns.runMean[0], ns.runVar[0]
			ns.mean[1], ns.variance[1] = ns.mean[0], ns.variance[0]
		}
		m.norms[n.ID] = ns
	}
	m.out = make([][]T, len(g.Nodes))
	m.grad = make([][]T, len(g.Nodes))
	m.set = make([]bool, len(g.Nodes))
	m.arg = make([][]int32, len(g.Nodes))
	return m
}

// SetConvolver makes the network run its convolutions with cv (by default
// the reference ones).
func (m *Net[T]) SetConvolver(cv ref.Convolver[T]) { m.cv = cv }

// Graph is the graph the network runs.
func (m *Net[T]) Graph() *compiler.Graph { return m.g }

// Param is the value of the named parameter, or nil.
func (m *Net[T]) Param(name string) []T {
	if i, ok := m.pidx[name]; ok {
		return m.params[i]
	}
	return nil
}

// ParamValues lists parameter values in the graph's order; ParamGrads
// their gradients.
func (m *Net[T]) ParamValues() [][]T { return m.params }

// ParamGrads lists the parameter gradients of the last Backward.
func (m *Net[T]) ParamGrads() [][]T { return m.grads }

// Running returns the running mean and variance of a norm node's branch.
func (m *Net[T]) Running(n *compiler.Node, branch nn.Branch) (mean, variance []T) {
	ns := m.norms[n.ID]
	return ns.runMean[branch], ns.runVar[branch]
}

// BatchStats returns the per-channel batch mean and (biased) variance
// that the last Forward with batch statistics on ref's ops computed for
// a norm node's branch; they are the network's own buffers.
func (m *Net[T]) BatchStats(n *compiler.Node, branch nn.Branch) (mean, variance []T) {
	ns := m.norms[n.ID]
	return ns.mean[branch], ns.variance[branch]
}

// Activation is node n's output in the last Net.Forward, NCHW for the
// batch (owned by the network). After a Model's Forward on the kernels
// it is in the kernels' layout instead.
func (m *Net[T]) Activation(n *compiler.Node) []T { return m.out[n.ID] }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Forward runs a batch of n images x (n×C×H×W, pixels in [0,1]) and
// returns the logits (n×classes), owned by the network.
func (m *Net[T]) Forward(x []T, n int, mode nn.Mode) []T {
	g := m.g
	if want := n * g.Nodes[0].Size(); len(x) != want {
		panic(fmt.Sprintf("interp: input has %d values, want %d for %d images", len(x), want, n))
	}
	if mode.Split < 0 || mode.Split > n {
		panic(fmt.Sprintf("interp: split %d outside batch of %d", mode.Split, n))
	}
	m.n, m.mode = n, mode
	for _, nd := range g.Nodes {
		m.out[nd.ID] = grow(m.out[nd.ID], n*nd.Size())
		y := m.out[nd.ID]
		switch nd.Op {
		case compiler.Input:
			ref.ChannelAffine(n, nd.C, nd.H*nd.W, x, m.inScale, m.inShift, y)
		case compiler.Conv:
			m.cv.Conv2D(m.conv(nd), m.out[nd.In[0].ID], m.Param(nd.Name+".weight"), y)
		case compiler.Norm:
			m.normForward(nd, y)
		case compiler.ReLU:
			ref.ReLU(m.out[nd.In[0].ID], y)
		case compiler.Add:
			ref.Add(m.out[nd.In[0].ID], m.out[nd.In[1].ID], y)
		case compiler.MaxPool:
			in := nd.In[0]
			m.arg[nd.ID] = grow(m.arg[nd.ID], len(y))
			ref.MaxPool(n, in.C, in.H, in.W, nd.Kernel, nd.Stride, nd.Pad, m.out[in.ID], y, m.arg[nd.ID])
		case compiler.AvgPool:
			in := nd.In[0]
			ref.GlobalAvgPool(n, in.C, in.H*in.W, m.out[in.ID], y)
		case compiler.Linear:
			m.linearForward(nd, y)
		}
	}
	return m.out[len(g.Nodes)-1]
}

func (m *Net[T]) conv(nd *compiler.Node) ref.Conv {
	in := nd.In[0]
	return ref.Conv{N: m.n, C: in.C, H: in.H, W: in.W, K: nd.C, R: nd.Kernel, S: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad}
}

// part is a contiguous run of images normalized with one branch.
type part struct {
	lo, hi int // images
	branch nn.Branch
}

// parts splits the batch by MBN branch: a norm of one branch (BN, GN)
// uses branch 0 for all images.
func (m *Net[T]) parts(nd *compiler.Node) []part {
	if nd.Norm.Info().Branches == 1 {
		return []part{{0, m.n, nn.Clean}}
	}
	if s := m.mode.Split; s > 0 {
		if s == m.n {
			return []part{{0, s, nn.Clean}}
		}
		return []part{{0, s, nn.Clean}, {s, m.n, nn.Adv}}
	}
	return []part{{0, m.n, m.mode.Branch}}
}

// affine names the affine parameters of a norm node's branch.
func (m *Net[T]) affine(nd *compiler.Node, br nn.Branch) (gammaName, betaName string) {
	name := compiler.BranchName(nd.Name, min(int(br), nd.Norm.AffineSets()-1))
	return name + ".weight", name + ".bias"
}

// perImage reports whether norm node nd normalizes each image over
// groups of channels (GN), and panics for a kind whose statistics the
// reference ops do not compute.
func perImage(nd *compiler.Node) bool {
	d := nd.Norm.Info()
	if d.PerImage == d.RunningStats {
		panic(fmt.Sprintf("interp: no reference ops for norm %s (%s)", d.Name, nd.Name))
	}
	return d.PerImage
}

func (m *Net[T]) normForward(nd *compiler.Node, y []T) {
	x := m.out[nd.In[0].ID]
	ns := m.norms[nd.ID]
	c, hw := nd.C, nd.H*nd.W
	if perImage(nd) {
		groups := nd.Norm.Groups
		ns.gnMean = grow(ns.gnMean, m.n*groups)
		ns.gnRstd = grow(ns.gnRstd, m.n*groups)
		ref.GNForward(m.n, c, hw, groups, x, T(Eps), m.Param(nd.Name+".weight"), m.Param(nd.Name+".bias"), y, ns.gnMean, ns.gnRstd)
		return
	}
	if nd.Norm.Share == spec.ShareStats && m.mode.Norm == nn.BatchStats {
		// Statistics of the whole batch, then each part's affine.
		ref.BNStats(m.n, c, hw, x, ns.mean[0], ns.variance[0])
		if m.mode.UpdateStats {
			ref.UpdateRunning(T(Momentum), m.n*hw, ns.runMean[0], ns.runVar[0], ns.mean[0], ns.variance[0])
		}
		for _, p := range m.parts(nd) {
			gn, bn := m.affine(nd, p.branch)
			lo, hi := p.lo*c*hw, p.hi*c*hw
			ref.BNApply(p.hi-p.lo, c, hw, x[lo:hi], ns.mean[0], ns.variance[0], T(Eps), m.Param(gn), m.Param(bn), y[lo:hi])
		}
		return
	}
	for _, p := range m.parts(nd) {
		gn, bn := m.affine(nd, p.branch)
		xs, ys := x[p.lo*c*hw:p.hi*c*hw], y[p.lo*c*hw:p.hi*c*hw]
		mean, variance := ns.runMean[p.branch], ns.runVar[p.branch]
		if m.mode.Norm == nn.BatchStats {
			mean, variance = ns.mean[p.branch], ns.variance[p.branch]
			ref.BNStats(p.hi-p.lo, c, hw, xs, mean, variance)
			if m.mode.UpdateStats {
				ref.UpdateRunning(T(Momentum), (p.hi-p.lo)*hw, ns.runMean[p.branch], ns.runVar[p.branch], mean, variance)
			}
		}
		ref.BNApply(p.hi-p.lo, c, hw, xs, mean, variance, T(Eps), m.Param(gn), m.Param(bn), ys)
	}
}

// Backward propagates dlogits (n×classes) through the last Forward. With
// nn.AllGrads it overwrites every parameter gradient; either way it
// computes the input gradient.
func (m *Net[T]) Backward(dlogits []T, want nn.Grads) {
	g := m.g
	all := m.startBackward(dlogits, want)
	n := m.n
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		nd := g.Nodes[i]
		dy := m.nodeGrad(i)
		switch nd.Op {
		case compiler.Input:
			ref.ChannelAffine(n, nd.C, nd.H*nd.W, dy, m.inScale, nil, dy)
		case compiler.Conv:
			in := nd.In[0]
			w := m.Param(nd.Name + ".weight")
			if all {
				m.cv.Conv2DBackwardWeight(m.conv(nd), m.out[in.ID], dy, m.grads[m.pidx[nd.Name+".weight"]])
			}
			m.cv.Conv2DBackwardData(m.conv(nd), dy, w, m.target(in))
			m.accumulate(in)
		case compiler.Norm:
			m.normBackward(nd, dy, all)
		case compiler.ReLU:
			in := nd.In[0]
			ref.ReLUBackward(m.out[nd.ID], dy, m.target(in))
			m.accumulate(in)
		case compiler.Add:
			for _, in := range nd.In {
				copy(m.target(in), dy)
				m.accumulate(in)
			}
		case compiler.MaxPool:
			in := nd.In[0]
			ref.MaxPoolBackward(n, in.C, in.H, in.W, nd.Kernel, nd.Stride, nd.Pad, dy, m.arg[nd.ID], m.target(in))
			m.accumulate(in)
		case compiler.AvgPool:
			in := nd.In[0]
			ref.GlobalAvgPoolBackward(n, in.C, in.H*in.W, dy, m.target(in))
			m.accumulate(in)
		case compiler.Linear:
			m.linearBackward(nd, dy, all)
		}
	}
}

// linearForward runs linear layer nd into y; linearBackward is its
// backward pass.
func (m *Net[T]) linearForward(nd *compiler.Node, y []T) {
	ref.Linear(m.n, nd.In[0].C, nd.C, m.out[nd.In[0].ID], m.Param(nd.Name+".weight"), m.Param(nd.Name+".bias"), y)
}

func (m *Net[T]) linearBackward(nd *compiler.Node, dy []T, all bool) {
	in := nd.In[0]
	var dw, db []T
	if all {
		dw, db = m.grads[m.pidx[nd.Name+".weight"]], m.grads[m.pidx[nd.Name+".bias"]]
	}
	ref.LinearBackward(m.n, in.C, nd.C, m.out[in.ID], m.Param(nd.Name+".weight"), dy, m.target(in), dw, db)
	m.accumulate(in)
}

// startBackward readies the gradient buffers for a Backward from
// dlogits: it clears the parameter gradients if want is AllGrads (and
// reports whether it is).
func (m *Net[T]) startBackward(dlogits []T, want nn.Grads) (all bool) {
	last := len(m.g.Nodes) - 1
	if len(dlogits) != len(m.out[last]) {
		panic(fmt.Sprintf("interp: dlogits has %d values, want %d", len(dlogits), len(m.out[last])))
	}
	all = want == nn.AllGrads
	if all {
		for _, gr := range m.grads {
			clear(gr)
		}
	}
	for i, nd := range m.g.Nodes {
		m.grad[i] = grow(m.grad[i], m.n*nd.Size())
		m.set[i] = false
	}
	copy(m.grad[last], dlogits)
	m.set[last] = true
	return all
}

// nodeGrad is the gradient of node i's output, zero if nothing the loss
// depends on reached it.
func (m *Net[T]) nodeGrad(i int) []T {
	if !m.set[i] {
		clear(m.grad[i])
	}
	return m.grad[i]
}

// target is where an op writes the gradient for its operand in: the
// operand's gradient buffer the first time, scratch afterwards (then
// accumulate adds it).
func (m *Net[T]) target(in *compiler.Node) []T {
	if !m.set[in.ID] {
		return m.grad[in.ID]
	}
	m.tmp = grow(m.tmp, len(m.grad[in.ID]))
	return m.tmp
}

func (m *Net[T]) accumulate(in *compiler.Node) {
	if !m.set[in.ID] {
		m.set[in.ID] = true
		return
	}
	m.add(m.grad[in.ID], m.tmp, m.grad[in.ID])
}

// normGrads is where the gradients of a norm layer's affine parameters
// for branch br go: nil unless all parameter gradients are wanted.
func (m *Net[T]) normGrads(nd *compiler.Node, br nn.Branch, all bool) (dgamma, dbeta []T) {
	if !all {
		return nil, nil
	}
	gn, bn := m.affine(nd, br)
	return m.grads[m.pidx[gn]], m.grads[m.pidx[bn]]
}

func (m *Net[T]) normBackward(nd *compiler.Node, dy []T, all bool) {
	in := nd.In[0]
	x := m.out[in.ID]
	dx := m.target(in)
	defer m.accumulate(in)
	ns := m.norms[nd.ID]
	c, hw := nd.C, nd.H*nd.W
	grads := func(br nn.Branch) (dg, db []T) { return m.normGrads(nd, br, all) }
	if perImage(nd) {
		dg, db := grads(nn.Clean)
		ref.GNBackward(m.n, c, hw, nd.Norm.Groups, x, dy, ns.gnMean, ns.gnRstd, m.Param(nd.Name+".weight"), dx, dg, db)
		return
	}
	parts := m.parts(nd)
	frozen := m.mode.Norm != nn.BatchStats
	// Parts that share affine parameters add their gradients.
	shared := nd.Norm.Share == spec.ShareAffine && len(parts) > 1
	scratch := make([]T, 2*c)
	if shared && all {
		dg, db := grads(nn.Clean)
		clear(dg)
		clear(db)
	}
	for _, p := range parts {
		gn, _ := m.affine(nd, p.branch)
		lo, hi := p.lo*c*hw, p.hi*c*hw
		dg, db := grads(p.branch)
		pg, pb := dg, db
		if shared && all {
			pg, pb = scratch[:c], scratch[c:]
		}
		switch {
		case nd.Norm.Share == spec.ShareStats && !frozen:
			// Statistics of the whole batch: each part's affine gradients
			// as with fixed statistics, the input gradient below.
			ref.BNBackwardFrozen(p.hi-p.lo, c, hw, x[lo:hi], dy[lo:hi], ns.mean[0], ns.variance[0], T(Eps), m.Param(gn), dx[lo:hi], pg, pb)
		case frozen:
			ref.BNBackwardFrozen(p.hi-p.lo, c, hw, x[lo:hi], dy[lo:hi], ns.runMean[p.branch], ns.runVar[p.branch], T(Eps), m.Param(gn), dx[lo:hi], pg, pb)
		default:
			ref.BNBackward(p.hi-p.lo, c, hw, x[lo:hi], dy[lo:hi], ns.mean[p.branch], ns.variance[p.branch], T(Eps), m.Param(gn), dx[lo:hi], pg, pb)
		}
		if shared && all {
			ref.Add(dg, pg, dg)
			ref.Add(db, pb, db)
		}
	}
	if nd.Norm.Share == spec.ShareStats && !frozen {
		// dx of batch statistics over the whole batch, each part's γ
		// folded into its dy.
		g := make([]T, len(dy))
		ones := make([]T, c)
		for i := range ones {
			ones[i] = 1
		}
		for _, p := range parts {
			gn, _ := m.affine(nd, p.branch)
			lo, hi := p.lo*c*hw, p.hi*c*hw
			ref.ChannelAffine(p.hi-p.lo, c, hw, dy[lo:hi], m.Param(gn), nil, g[lo:hi])
		}
		ref.BNBackward(m.n, c, hw, x, g, ns.mean[0], ns.variance[0], T(Eps), ones, dx, nil, nil)
	}
}

// InputGrad is the gradient w.r.t. the last Forward's input pixels.
func (m *Net[T]) InputGrad() []T { return m.grad[0] }
