package interp

import (
	"fmt"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/kernels/special"
	"github.com/netc/netc/runtime/layers"
	"github.com/netc/netc/runtime/nn"
)

// fast runs a float32 Net's compiler.Program on the layers of package
// layers, as a compiled model runs the same Program printed as Go: the
// same calls on one arena with the same offsets, and the same kernels
// where the library of specialized kernels (runtime/kernels/special) has
// the shape, so both use the same memory per image and compute the same
// values. Activations are blocked
// (NCHW16c, see kernels.ToBlocked) except the network's input when its
// channels are not a multiple of 16 (the stem reads it plain). The
// layers hold the Net's own parameters, gradients and norm statistics,
// in its layouts, so checkpoints and optimizers see no difference. A
// Forward with Mode.InputOnly and running statistics runs the attack
// program, BN folded into the convolutions.
type fast struct {
	*Net[float32]
	train, attack *compiler.Program // attack is nil when nothing folds
	prog          *compiler.Program // the last Forward's
	pass          layers.Pass
	in            layers.Input
	arena         layers.Arena
	convs         []*layers.Conv // by node ID
	norms         []*layers.Norm
	pools         []*layers.MaxPool
	linears       []*layers.Linear
	// The buffers outside the arena: the input batch, the logits, their
	// gradient and the input gradient.
	x, logits, dlogits, dx []float32
}

func newFast(net *Net[float32], isa kernels.ISA) *fast {
	g := net.g
	n := len(g.Nodes)
	f := &fast{Net: net, train: g.Program(compiler.TrainPass), attack: g.Program(compiler.AttackPass),
		pass: layers.Pass{ISA: isa}, in: layers.NewInput(g.Spec),
		convs: make([]*layers.Conv, n), norms: make([]*layers.Norm, n), pools: make([]*layers.MaxPool, n), linears: make([]*layers.Linear, n)}
	grad := func(name string) []float32 { return net.grads[net.pidx[name]] }
	for _, nd := range g.Nodes {
		var in *compiler.Node
		if len(nd.In) > 0 {
			in = nd.In[0]
		}
		switch nd.Op {
		case compiler.Conv:
			c := &layers.Conv{C: in.C, H: in.H, W: in.W, K: nd.C, R: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad,
				Weight: net.Param(nd.Name + ".weight"), Grad: grad(nd.Name + ".weight")}
			c.Special = special.Lookup(isa, c.Shape(0)) // the library's kernels of the standard shapes, as compiled models use
			f.convs[nd.ID] = c
		case compiler.Norm:
			b := &layers.Norm{Kind: nd.Norm.Kind, Share: nd.Norm.Share, C: nd.C, HW: nd.H * nd.W, Groups: nd.Norm.Groups}
			ns := net.norms[nd.ID]
			for br := range 2 {
				gn, bn := net.affine(nd, nn.Branch(br))
				if br < nd.Norm.Info().Branches {
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

// arenaSize is the arena's floats per image: enough for either program.
func (f *fast) arenaSize() int { return compiler.ArenaSize(f.train, f.attack) }

// buffer is the memory of b for the current batch.
func (f *fast) buffer(b *compiler.Buffer) []float32 {
	if b == nil {
		return nil
	}
	switch b.External {
	case compiler.InArena:
		return f.arena.At(&f.pass, b.Offset, b.Size)
	case compiler.Image:
		return f.x
	case compiler.Logits:
		return f.logits
	case compiler.DLogits:
		return f.dlogits
	case compiler.DImage:
		return f.dx
	}
	panic(fmt.Sprintf("interp: buffer %d outside the arena and the known buffers", b.ID))
}

// Forward is Net.Forward on the kernels.
func (f *fast) Forward(x []float32, n int, mode nn.Mode) []float32 {
	m := f.Net
	m.n, m.mode = n, mode
	p := &f.pass
	p.N, p.Mode = n, mode
	f.prog = f.train
	if f.attack != nil && layers.CanFold(mode, n) {
		f.prog = f.attack
	}
	f.arena.Reset(n, f.arenaSize())
	f.x = x
	f.logits = grow(f.logits, n*m.g.Output().C)
	for _, c := range f.prog.Forward {
		f.run(c)
	}
	return f.logits
}

// Backward is Net.Backward on the kernels; the input gradient is f.dx.
func (f *fast) Backward(dlogits []float32, want nn.Grads) {
	m := f.Net
	if len(dlogits) != len(f.logits) {
		panic(fmt.Sprintf("interp: dlogits has %d values, want %d", len(dlogits), len(f.logits)))
	}
	p := &f.pass
	p.All = want == nn.AllGrads
	if p.All && f.prog.Pass == compiler.AttackPass {
		panic("interp: Backward with AllGrads after a Forward with Mode.InputOnly")
	}
	if p.All {
		for _, gr := range m.grads {
			clear(gr)
		}
	}
	f.dlogits = dlogits
	f.dx = grow(f.dx, m.n*m.g.Nodes[0].Size())
	for _, c := range f.prog.Backward {
		f.run(c)
	}
}

// run executes one call of a program.
func (f *fast) run(c *compiler.Call) {
	p := &f.pass
	x, z, dy, y := f.buffer(c.X), f.buffer(c.Z), f.buffer(c.DY), f.buffer(c.Y)
	nd := c.Node
	switch c.Op {
	case compiler.InputOp:
		f.in.Forward(p, x, y)
	case compiler.InputBackward:
		f.in.Backward(p, dy, y)
	case compiler.ConvOp:
		f.convs[nd.ID].Forward(p, x, y)
	case compiler.ConvBackward:
		f.convs[nd.ID].Backward(p, x, dy, y)
	case compiler.FoldedConv:
		f.convs[nd.ID].FoldedForward(p, x, f.norms[c.Fold.Norm.ID], z, y, c.ReLU)
	case compiler.FoldedConvBackward:
		f.convs[nd.ID].FoldedBackward(p, dy, y)
	case compiler.NormOp:
		f.norms[nd.ID].Forward(p, x, y, c.ReLU)
	case compiler.NormBackward:
		f.norms[nd.ID].Backward(p, x, z, dy, y)
	case compiler.ReLUOp:
		layers.ReLU(p, x, y)
	case compiler.ReLUBackward:
		layers.ReLUBackward(p, z, dy, y)
	case compiler.AddOp:
		layers.Add(p, x, z, y)
	case compiler.Copy:
		copy(y, x)
	case compiler.MaxPoolOp:
		f.pools[nd.ID].Forward(p, x, y)
	case compiler.MaxPoolBackward:
		f.pools[nd.ID].Backward(p, dy, y)
	case compiler.AvgPoolOp:
		layers.AvgPool(p, nd.In[0].C, nd.In[0].H*nd.In[0].W, x, y)
	case compiler.AvgPoolBackward:
		layers.AvgPoolBackward(p, nd.In[0].C, nd.In[0].H*nd.In[0].W, dy, y)
	case compiler.LinearOp:
		f.linears[nd.ID].Forward(p, x, y)
	case compiler.LinearBackward:
		f.linears[nd.ID].Backward(p, x, dy, y)
	default:
		panic(fmt.Sprintf("interp: no kernel for call %v", c.Op))
	}
}
