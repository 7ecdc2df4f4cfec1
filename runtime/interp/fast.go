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
	plainX []float32         // normalized input before blocking
	sums   [4][]float64      // scratch for per-image channel sums
	coef   [3][]float32      // scratch for per-channel coefficients

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
	f := &fast{Net: net, isa: isa, packed: map[int][]float32{}, fused: make([]bool, len(g.Nodes))}
	net.add = func(a, b, y []float32) { kernels.Add(isa, a, b, y) }
	uses := make([]int, len(g.Nodes))
	for _, nd := range g.Nodes {
		for _, in := range nd.In {
			uses[in.ID]++
		}
	}
	users := make([][]*compiler.Node, len(g.Nodes))
	for _, nd := range g.Nodes {
		for _, in := range nd.In {
			users[in.ID] = append(users[in.ID], nd)
		}
		if nd.Op == compiler.ReLU && nd.In[0].Op == compiler.Norm && uses[nd.In[0].ID] == 1 {
			f.fused[nd.ID] = true
		}
	}
	f.folds, f.folded = map[int]fold{}, make([]bool, len(g.Nodes))
	f.wFold, f.bias = map[int][]float32{}, map[int][]float32{}
	only := func(nd *compiler.Node) *compiler.Node {
		if len(users[nd.ID]) == 1 {
			return users[nd.ID][0]
		}
		return nil
	}
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
	scale, _, _ := f.coefs(c.K)
	for k := range c.K {
		s := float64(gamma[k]) * rstd(variance[k])
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
			x, tmp := m.out[in.ID], make([]float32, n*nd.Size())
			plainIn := make([]float32, len(x))
			kernels.FromBlocked(n, in.C, in.H*in.W, x, plainIn)
			m.arg[nd.ID] = grow(m.arg[nd.ID], len(y))
			ref.MaxPool(n, in.C, in.H, in.W, nd.Kernel, nd.Stride, nd.Pad, plainIn, tmp, m.arg[nd.ID])
			kernels.ToBlocked(n, nd.C, nd.H*nd.W, tmp, y)
		case compiler.AvgPool:
			in := nd.In[0]
			avgPool(n, in.C, in.H*in.W, m.out[in.ID], y)
		case compiler.Linear:
			ref.Linear(n, nd.In[0].C, nd.C, m.out[nd.In[0].ID], m.Param(nd.Name+".weight"), m.Param(nd.Name+".bias"), y)
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

// out is where a norm layer writes: its own output, or that of the ReLU
// it computes.
func (f *fast) normOut(nd *compiler.Node) (y []float32, relu *compiler.Node) {
	for _, r := range f.g.Nodes[nd.ID+1:] {
		if r.Op == compiler.ReLU && r.In[0] == nd && f.fused[r.ID] {
			return f.out[r.ID], r
		}
	}
	return f.out[nd.ID], nil
}

func (f *fast) scratch(i, n int) []float64 {
	f.sums[i] = grow(f.sums[i], n)
	return f.sums[i]
}

// coefs returns three scratch vectors of n coefficients, zeroed.
func (f *fast) coefs(n int) (a, b, k []float32) {
	for i := range f.coef {
		f.coef[i] = grow(f.coef[i], n)
		clear(f.coef[i])
	}
	return f.coef[0], f.coef[1], f.coef[2]
}

func (f *fast) normForward(nd *compiler.Node) {
	m := f.Net
	x := m.out[nd.In[0].ID]
	y, relu := f.normOut(nd)
	ns := m.norms[nd.ID]
	c, hw := nd.C, nd.H*nd.W
	if nd.Norm.Kind == spec.GN {
		groups, cg := nd.Norm.Groups, c/nd.Norm.Groups
		ns.gnMean = grow(ns.gnMean, m.n*groups)
		ns.gnRstd = grow(ns.gnRstd, m.n*groups)
		sum, sq := f.scratch(0, m.n*c), f.scratch(1, m.n*c)
		kernels.ChannelSums(f.isa, m.n, c, hw, x, sum, sq)
		scale, shift, _ := f.coefs(m.n * c)
		gamma, beta := m.Param(nd.Name+".weight"), m.Param(nd.Name+".bias")
		size := float64(cg * hw)
		for ig := range m.n * groups {
			var s, q float64
			for k := ig * cg; k < (ig+1)*cg; k++ {
				s, q = s+sum[k], q+sq[k]
			}
			mu := s / size
			r := 1 / math.Sqrt(max(0, q/size-mu*mu)+Eps)
			ns.gnMean[ig], ns.gnRstd[ig] = float32(mu), float32(r)
			for k := ig * cg; k < (ig+1)*cg; k++ {
				ch := k % c
				scale[k] = float32(float64(gamma[ch]) * r)
				shift[k] = float32(float64(beta[ch]) - mu*float64(gamma[ch])*r)
			}
		}
		kernels.Affine(f.isa, m.n, c, hw, x, scale, shift, true, relu != nil, y)
		return
	}
	for _, p := range m.parts(nd) {
		gn, bn := m.affine(nd, p.branch)
		nimg := p.hi - p.lo
		xs, ys := x[p.lo*c*hw:p.hi*c*hw], y[p.lo*c*hw:p.hi*c*hw]
		mean, variance := ns.runMean[p.branch], ns.runVar[p.branch]
		if m.mode.Norm == runtime.BatchStats {
			mean, variance = ns.mean[p.branch], ns.variance[p.branch]
			sum, sq := f.scratch(0, nimg*c), f.scratch(1, nimg*c)
			kernels.ChannelSums(f.isa, nimg, c, hw, xs, sum, sq)
			cnt := float64(nimg * hw)
			for ch := range c {
				var s, q float64
				for i := range nimg {
					s, q = s+sum[i*c+ch], q+sq[i*c+ch]
				}
				mu := s / cnt
				mean[ch], variance[ch] = float32(mu), float32(max(0, q/cnt-mu*mu))
			}
			if m.mode.UpdateStats {
				ref.UpdateRunning(float32(Momentum), nimg*hw, ns.runMean[p.branch], ns.runVar[p.branch], mean, variance)
			}
		}
		gamma, beta := m.Param(gn), m.Param(bn)
		scale, shift, _ := f.coefs(c)
		for ch := range c {
			r := rstd(variance[ch])
			scale[ch] = float32(float64(gamma[ch]) * r)
			shift[ch] = float32(float64(beta[ch]) - float64(mean[ch])*float64(gamma[ch])*r)
		}
		kernels.Affine(f.isa, nimg, c, hw, xs, scale, shift, false, relu != nil, ys)
	}
}

func rstd(variance float32) float64 { return 1 / math.Sqrt(float64(variance)+Eps) }

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
			plainDy, plainDx := make([]float32, len(dy)), make([]float32, n*in.Size())
			kernels.FromBlocked(n, nd.C, nd.H*nd.W, dy, plainDy)
			ref.MaxPoolBackward(n, in.C, in.H, in.W, nd.Kernel, nd.Stride, nd.Pad, plainDy, m.arg[nd.ID], plainDx)
			kernels.ToBlocked(n, in.C, in.H*in.W, plainDx, m.target(in))
			m.accumulate(in)
		case compiler.AvgPool:
			in := nd.In[0]
			dx, hw := m.target(in), in.H*in.W
			for b := range n * in.C / kernels.Block {
				for p := range hw {
					for j := range kernels.Block {
						dx[(b*hw+p)*kernels.Block+j] = dy[b*kernels.Block+j] / float32(hw)
					}
				}
			}
			m.accumulate(in)
		case compiler.Linear:
			in := nd.In[0]
			var dw, db []float32
			if all {
				dw, db = m.grads[m.pidx[nd.Name+".weight"]], m.grads[m.pidx[nd.Name+".bias"]]
			}
			ref.LinearBackward(n, in.C, nd.C, m.out[in.ID], m.Param(nd.Name+".weight"), dy, m.target(in), dw, db)
			m.accumulate(in)
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
// may compute: one pass for dz = dy·[y > 0] and the per-channel sums Σdz
// and Σdz·x, one for dx = a·dz + b·x + k.
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
	grads := func(br runtime.Branch) (dg, db []float32) {
		if !all {
			return nil, nil
		}
		gn, bn := m.affine(nd, br)
		return m.grads[m.pidx[gn]], m.grads[m.pidx[bn]]
	}
	if nd.Norm.Kind == spec.GN {
		groups, cg := nd.Norm.Groups, c/nd.Norm.Groups
		sdz, sdzx := f.scratch(2, m.n*c), f.scratch(3, m.n*c)
		kernels.BackwardReduce(f.isa, m.n, c, hw, dy, x, mask, dy, sdz, sdzx)
		gamma := m.Param(nd.Name + ".weight")
		dg, db := grads(runtime.Clean)
		a, b, k := f.coefs(m.n * c)
		size := float64(cg * hw)
		for ig := range m.n * groups {
			mu, r := float64(ns.gnMean[ig]), float64(ns.gnRstd[ig])
			var sg, sgx float64 // Σγ·dz and Σγ·dz·x̂ over the group
			for j := ig * cg; j < (ig+1)*cg; j++ {
				ch := j % c
				dxhat := (sdzx[j] - mu*sdz[j]) * r
				sg += float64(gamma[ch]) * sdz[j]
				sgx += float64(gamma[ch]) * dxhat
				if dg != nil {
					dg[ch] += float32(dxhat)
					db[ch] += float32(sdz[j])
				}
			}
			for j := ig * cg; j < (ig+1)*cg; j++ {
				ch := j % c
				a[j] = float32(r * float64(gamma[ch]))
				b[j] = float32(-r * r * sgx / size)
				k[j] = float32(-r*sg/size + mu*r*r*sgx/size)
			}
		}
		kernels.BackwardApply(f.isa, m.n, c, hw, dy, x, a, b, k, true, dx)
		return
	}
	for _, p := range m.parts(nd) {
		gn, _ := m.affine(nd, p.branch)
		gamma := m.Param(gn)
		nimg := p.hi - p.lo
		lo, hi := p.lo*c*hw, p.hi*c*hw
		var pm []float32
		if mask != nil {
			pm = mask[lo:hi]
		}
		sdz, sdzx := f.scratch(2, nimg*c), f.scratch(3, nimg*c)
		kernels.BackwardReduce(f.isa, nimg, c, hw, dy[lo:hi], x[lo:hi], pm, dy[lo:hi], sdz, sdzx)
		frozen := m.mode.Norm != runtime.BatchStats
		mean, variance := ns.mean[p.branch], ns.variance[p.branch]
		if frozen {
			mean, variance = ns.runMean[p.branch], ns.runVar[p.branch]
		}
		dg, db := grads(p.branch)
		a, b, k := f.coefs(c)
		cnt := float64(nimg * hw)
		for ch := range c {
			var s, sx float64
			for i := range nimg {
				s, sx = s+sdz[i*c+ch], sx+sdzx[i*c+ch]
			}
			mu, r := float64(mean[ch]), rstd(variance[ch])
			dgamma := (sx - mu*s) * r
			if dg != nil {
				dg[ch], db[ch] = float32(dgamma), float32(s)
			}
			kk := float64(gamma[ch]) * r
			a[ch] = float32(kk)
			if !frozen {
				b[ch] = float32(-kk * r * dgamma / cnt)
				k[ch] = float32(-kk*s/cnt + kk*r*dgamma*mu/cnt)
			}
		}
		kernels.BackwardApply(f.isa, nimg, c, hw, dy[lo:hi], x[lo:hi], a, b, k, false, dx[lo:hi])
	}
}
