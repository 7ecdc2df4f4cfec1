package interp

import (
	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/layers"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// fast runs a float32 Net on the layers of package layers, the kernel
// path that compiled models also take: activations are blocked
// (NCHW16c, see kernels.ToBlocked) except the network's input when its
// channels are not a multiple of 16 (the stem reads it plain); the
// outputs of pooling and linear layers have one pixel, where blocked and
// plain agree. The layers hold the Net's own parameters, gradients and
// norm statistics, in its layouts, so checkpoints and optimizers see no
// difference. Nodes fuse as compiler.Fuse says: a norm layer computes
// the ReLU after it, and a Forward with Mode.InputOnly and running
// statistics folds BN into the convolutions.
type fast struct {
	*Net[float32]
	fu      *compiler.Fusion
	pass    layers.Pass
	in      layers.Input
	convs   []*layers.Conv // by node ID
	norms   []*layers.Norm
	pools   []*layers.MaxPool
	linears []*layers.Linear
	didFold bool // the last Forward folded BN
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
	n := len(g.Nodes)
	f := &fast{Net: net, fu: compiler.Fuse(g), pass: layers.Pass{ISA: isa}, in: layers.NewInput(g.Spec),
		convs: make([]*layers.Conv, n), norms: make([]*layers.Norm, n), pools: make([]*layers.MaxPool, n), linears: make([]*layers.Linear, n)}
	net.add = func(a, b, y []float32) { kernels.Add(isa, a, b, y) }
	grad := func(name string) []float32 { return net.grads[net.pidx[name]] }
	for _, nd := range g.Nodes {
		var in *compiler.Node
		if len(nd.In) > 0 {
			in = nd.In[0]
		}
		switch nd.Op {
		case compiler.Conv:
			f.convs[nd.ID] = &layers.Conv{C: in.C, H: in.H, W: in.W, K: nd.C, R: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad,
				Weight: net.Param(nd.Name + ".weight"), Grad: grad(nd.Name + ".weight")}
		case compiler.Norm:
			b := &layers.Norm{Kind: nd.Norm.Kind, Share: nd.Norm.Share, C: nd.C, HW: nd.H * nd.W, Groups: nd.Norm.Groups}
			ns := net.norms[nd.ID]
			for br := range 2 {
				gn, bn := net.affine(nd, nn.Branch(br))
				if nd.Norm.Kind == spec.MBN || br == 0 {
					b.Weight[br], b.Bias[br] = net.Param(gn), net.Param(bn)
					b.WeightGrad[br], b.BiasGrad[br] = grad(gn), grad(bn)
				}
				b.RunMean[br], b.RunVar[br] = ns.runMean[br], ns.runVar[br]
			}
			f.norms[nd.ID] = b
		case compiler.MaxPool:
			f.pools[nd.ID] = &layers.MaxPool{C: in.C, H: in.H, W: in.W, K: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad}
		case compiler.Linear:
			f.linears[nd.ID] = &layers.Linear{In: in.C, Out: nd.C, Weight: net.Param(nd.Name + ".weight"), Bias: net.Param(nd.Name + ".bias"),
				WeightGrad: grad(nd.Name + ".weight"), BiasGrad: grad(nd.Name + ".bias")}
		}
	}
	return f
}

// folds reports whether the last Forward folded conv nd's BN into it.
func (f *fast) folds(nd *compiler.Node) (*compiler.Fold, bool) {
	fl, ok := f.fu.Folds[nd.ID]
	return fl, ok && f.didFold
}

// normOut is where a norm layer writes: its own output, or that of the
// ReLU it computes.
func (f *fast) normOut(nd *compiler.Node) (y []float32, relu bool) {
	if r := f.fu.ReLUOf[nd.ID]; r != nil {
		return f.out[r.ID], true
	}
	return f.out[nd.ID], false
}

// Forward is Net.Forward on the kernels.
func (f *fast) Forward(x []float32, n int, mode nn.Mode) []float32 {
	m := f.Net
	g := m.g
	m.n, m.mode = n, mode
	p := &f.pass
	p.N, p.Mode = n, mode
	for _, nd := range g.Nodes {
		m.out[nd.ID] = grow(m.out[nd.ID], n*nd.Size())
	}
	f.didFold = layers.CanFold(mode, n) && len(f.fu.Folds) > 0
	for _, nd := range g.Nodes {
		if f.didFold && f.fu.Folded[nd.ID] {
			continue
		}
		y := m.out[nd.ID]
		var xin []float32
		if len(nd.In) > 0 {
			xin = m.out[nd.In[0].ID]
		}
		if fl, ok := f.folds(nd); ok {
			var res []float32
			if fl.Res != nil {
				res = m.out[fl.Res.ID]
			}
			f.convs[nd.ID].FoldedForward(p, xin, f.norms[fl.Norm.ID], res, m.out[fl.Out.ID], fl.ReLU)
			continue
		}
		switch nd.Op {
		case compiler.Input:
			f.in.Forward(p, x, y)
		case compiler.Conv:
			f.convs[nd.ID].Forward(p, xin, y)
		case compiler.Norm:
			y, relu := f.normOut(nd)
			f.norms[nd.ID].Forward(p, xin, y, relu)
		case compiler.ReLU:
			if !f.fu.Fused[nd.ID] {
				layers.ReLU(p, xin, y)
			}
		case compiler.Add:
			layers.Add(p, xin, m.out[nd.In[1].ID], y)
		case compiler.MaxPool:
			f.pools[nd.ID].Forward(p, xin, y)
		case compiler.AvgPool:
			layers.AvgPool(p, nd.C, nd.In[0].H*nd.In[0].W, xin, y)
		case compiler.Linear:
			f.linears[nd.ID].Forward(p, xin, y)
		}
	}
	return m.out[len(g.Nodes)-1]
}

// Backward is Net.Backward on the kernels.
func (f *fast) Backward(dlogits []float32, want nn.Grads) {
	m := f.Net
	g := m.g
	if want == nn.AllGrads && f.didFold {
		panic("interp: Backward with AllGrads after a Forward with Mode.InputOnly")
	}
	p := &f.pass
	p.All = m.startBackward(dlogits, want)
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		nd := g.Nodes[i]
		dy := m.nodeGrad(i)
		var in *compiler.Node
		if len(nd.In) > 0 {
			in = nd.In[0]
		}
		switch nd.Op {
		case compiler.Input:
			f.in.Backward(p, dy, dy)
			continue
		case compiler.Conv:
			if _, ok := f.folds(nd); ok {
				f.convs[nd.ID].FoldedBackward(p, dy, m.target(in))
			} else {
				f.convs[nd.ID].Backward(p, m.out[in.ID], dy, m.target(in))
			}
		case compiler.Norm:
			if f.didFold && f.fu.Folded[nd.ID] { // scaled into the conv's weights
				f.handOver(in, i, dy)
				continue
			}
			var mask []float32
			if y, relu := f.normOut(nd); relu {
				mask = y
			}
			f.norms[nd.ID].Backward(p, m.out[in.ID], mask, dy, m.target(in))
		case compiler.ReLU:
			if f.fu.Fused[nd.ID] && !f.didFold { // the norm layer takes dy and the mask
				m.grad[in.ID], m.grad[nd.ID] = dy, m.grad[in.ID]
				m.set[in.ID] = true
				continue
			}
			layers.ReLUBackward(p, m.out[nd.ID], dy, m.target(in))
		case compiler.Add:
			f.handOver(nd.In[0], i, dy)
			f.handOver(nd.In[1], i, dy)
			continue
		case compiler.MaxPool:
			f.pools[nd.ID].Backward(p, dy, m.target(in))
		case compiler.AvgPool:
			layers.AvgPoolBackward(p, nd.C, in.H*in.W, dy, m.target(in))
		case compiler.Linear:
			f.linears[nd.ID].Backward(p, m.out[in.ID], dy, m.target(in))
		}
		m.accumulate(in)
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
