package codegen

import (
	"fmt"
	"strings"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
)

// A program is what a compiled model runs for one kind of pass: a
// forward and a backward list of calls on arena buffers. The training
// program saves what the backward needs and computes every gradient;
// the attack program folds frozen BN into the convolutions and computes
// the input gradient only.
type program struct {
	name              string // "train" or "attack"
	forward, backward []*call
	bufs              []*buf
	size              int // arena floats per image
}

// buf is an arena buffer of size floats per image, referenced by calls
// first to last (indices into forward followed by backward).
type buf struct {
	size, first, last, off int
	ext                    string // Go source of a buffer outside the arena
}

// call is one statement: recv.method(p, args...), or a package function
// when recv is "", or copy(args) when method is "copy".
type call struct {
	block  string // block name ("layer3.17") or "" at top level
	recv   *compiler.Node
	self   string // receiver that is no parameter: "m.in", "m.maxpool"
	method string
	args   []arg
}

// arg is a call argument: an arena buffer, a constant, Go source, or a
// pointer to a layer.
type arg struct {
	buf  *buf
	lit  any    // int or bool
	src  string // "x.Data", "nil", "m.dx.Data"
	node *compiler.Node
}

// blockOf is the residual block a node belongs to ("layer2.0"), or "".
func blockOf(nd *compiler.Node) string {
	if !strings.HasPrefix(nd.Name, "layer") {
		return ""
	}
	parts := strings.SplitN(nd.Name, ".", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// builder emulates the interpreter's kernel path (runtime/interp's fast
// executor) on symbolic buffers, so that the compiled code makes the
// same kernel calls on the same values.
type builder struct {
	g     *compiler.Graph
	prog  *program
	fold  bool // the attack path: fusion.Folds apply
	fu    *compiler.Fusion
	calls *[]*call
	out   []*buf // forward outputs by node ID
	grad  []*buf // gradients by node ID
	set   []bool
	owner map[*buf]int // which node a gradient buffer belongs to
}

// supported reports why a graph cannot be compiled, or nil.
func supported(g *compiler.Graph) error {
	for _, nd := range g.Nodes[1:] {
		if nd.C%kernels.Block != 0 && nd.Op != compiler.Linear {
			return fmt.Errorf("%s: layer %s has %d channels; compiled models need multiples of %d (the interpreter, netc --interp, runs any width)",
				g.Spec.File, nd.Name, nd.C, kernels.Block)
		}
	}
	return nil
}

func newBuilder(g *compiler.Graph, folding bool) *builder {
	b := &builder{g: g, fold: folding, fu: compiler.Fuse(g), prog: &program{name: "train"}, owner: map[*buf]int{}}
	if folding {
		b.prog.name = "attack"
	}
	n := len(g.Nodes)
	b.out, b.grad, b.set = make([]*buf, n), make([]*buf, n), make([]bool, n)
	return b
}

// folds reports whether the builder folds conv nd's BN into it.
func (b *builder) folds(nd *compiler.Node) (*compiler.Fold, bool) {
	fl, ok := b.fu.Folds[nd.ID]
	return fl, ok && b.fold
}

func (b *builder) newBuf(nd *compiler.Node) *buf {
	x := &buf{size: nd.Size(), first: -1}
	b.prog.bufs = append(b.prog.bufs, x)
	return x
}

// emit appends a call made for node nd.
func (b *builder) emit(nd *compiler.Node, recv *compiler.Node, self, method string, args ...arg) {
	*b.calls = append(*b.calls, &call{block: blockOf(nd), recv: recv, self: self, method: method, args: args})
}

func bufArg(x *buf) arg { return arg{buf: x} }
func lit(v any) arg     { return arg{lit: v} }
func src(s string) arg  { return arg{src: s} }

// outArg is a node's forward output, allocated on first use.
func (b *builder) outArg(nd *compiler.Node) arg {
	if b.out[nd.ID] == nil {
		b.out[nd.ID] = b.newBuf(nd)
	}
	return bufArg(b.out[nd.ID])
}

func (b *builder) build() *program {
	b.out[b.g.Output().ID] = &buf{ext: "m.logits.Data"}
	b.calls = &b.prog.forward
	for _, nd := range b.g.Nodes {
		b.forward(nd)
	}
	b.calls = &b.prog.backward
	last := b.g.Output()
	b.grad[last.ID] = &buf{ext: "dlogits.Data"}
	b.owner[b.grad[last.ID]] = last.ID
	b.set[last.ID] = true
	for i := len(b.g.Nodes) - 1; i >= 0; i-- {
		b.backward(b.g.Nodes[i])
	}
	b.plan()
	return b.prog
}

func (b *builder) forward(nd *compiler.Node) {
	if b.fold && b.fu.Folded[nd.ID] {
		return
	}
	if fl, ok := b.folds(nd); ok {
		res := src("nil")
		if fl.Res != nil {
			res = b.outArg(fl.Res)
		}
		b.emit(nd, nd, "", "FoldedForward", b.outArg(nd.In[0]), arg{node: fl.Norm}, res, b.outArg(fl.Out), lit(fl.ReLU))
		return
	}
	x := func() arg { return b.outArg(nd.In[0]) }
	switch nd.Op {
	case compiler.Input:
		b.emit(nd, nil, "m.in", "Forward", src("x.Data"), b.outArg(nd))
	case compiler.Conv, compiler.Linear:
		b.emit(nd, nd, "", "Forward", x(), b.outArg(nd))
	case compiler.Norm:
		y, relu := nd, false
		if r := b.fu.ReLUOf[nd.ID]; r != nil {
			y, relu = r, true
		}
		b.emit(nd, nd, "", "Forward", x(), b.outArg(y), lit(relu))
	case compiler.ReLU:
		if !b.fu.Fused[nd.ID] {
			b.emit(nd, nil, "layers", "ReLU", x(), b.outArg(nd))
		}
	case compiler.Add:
		b.emit(nd, nil, "layers", "Add", b.outArg(nd.In[0]), b.outArg(nd.In[1]), b.outArg(nd))
	case compiler.MaxPool:
		b.emit(nd, nil, "m.maxpool", "Forward", x(), b.outArg(nd))
	case compiler.AvgPool:
		in := nd.In[0]
		b.emit(nd, nil, "layers", "AvgPool", lit(in.C), lit(in.H*in.W), x(), b.outArg(nd))
	}
}

// target is where a backward call writes the gradient of its operand in:
// in's gradient buffer the first time, else scratch that accumulate then
// adds to it.
func (b *builder) target(in *compiler.Node) *buf {
	if !b.set[in.ID] {
		b.grad[in.ID] = b.newBuf(in)
		b.owner[b.grad[in.ID]] = in.ID
		return b.grad[in.ID]
	}
	return b.newBuf(in)
}

func (b *builder) accumulate(nd, in *compiler.Node, t *buf) {
	if !b.set[in.ID] {
		b.set[in.ID] = true
		return
	}
	g := b.grad[in.ID]
	b.emit(nd, nil, "layers", "Add", bufArg(g), bufArg(t), bufArg(g))
}

// handOver passes node nd's gradient dy on to its operand in: the buffer
// itself if in has none yet and nd still owns it, else a copy.
func (b *builder) handOver(nd, in *compiler.Node, dy *buf) {
	if !b.set[in.ID] && b.owner[dy] == nd.ID {
		b.grad[in.ID], b.set[in.ID] = dy, true
		b.owner[dy] = in.ID
		return
	}
	t := b.target(in)
	b.emit(nd, nil, "", "copy", bufArg(t), bufArg(dy))
	b.accumulate(nd, in, t)
}

func (b *builder) backward(nd *compiler.Node) {
	if !b.set[nd.ID] {
		panic(fmt.Sprintf("codegen: no gradient reaches %s", nd.Name))
	}
	dy := b.grad[nd.ID]
	var in *compiler.Node
	if len(nd.In) > 0 {
		in = nd.In[0]
	}
	// op writes in's gradient with one call.
	op := func(recv *compiler.Node, self, method string, args ...arg) {
		t := b.target(in)
		b.emit(nd, recv, self, method, append(args, bufArg(t))...)
		b.accumulate(nd, in, t)
	}
	switch nd.Op {
	case compiler.Input:
		b.emit(nd, nil, "m.in", "Backward", bufArg(dy), src("m.dx.Data"))
	case compiler.Conv:
		if _, ok := b.folds(nd); ok {
			op(nd, "", "FoldedBackward", bufArg(dy))
		} else {
			op(nd, "", "Backward", b.outArg(in), bufArg(dy))
		}
	case compiler.Norm:
		if b.fold && b.fu.Folded[nd.ID] { // scaled into the conv's weights
			b.handOver(nd, in, dy)
			break
		}
		mask := src("nil")
		if r := b.fu.ReLUOf[nd.ID]; r != nil {
			mask = b.outArg(r)
		}
		op(nd, "", "Backward", b.outArg(in), mask, bufArg(dy))
	case compiler.ReLU:
		if b.fu.Fused[nd.ID] && !b.fold { // the norm layer takes dy and the mask
			b.grad[in.ID], b.set[in.ID] = dy, true
			b.owner[dy] = in.ID
			break
		}
		op(nil, "layers", "ReLUBackward", b.outArg(nd), bufArg(dy))
	case compiler.Add:
		b.handOver(nd, nd.In[0], dy)
		b.handOver(nd, nd.In[1], dy)
	case compiler.MaxPool:
		op(nil, "m.maxpool", "Backward", bufArg(dy))
	case compiler.AvgPool:
		op(nil, "layers", "AvgPoolBackward", lit(in.C), lit(in.H*in.W), bufArg(dy))
	case compiler.Linear:
		op(nd, "", "Backward", b.outArg(in), bufArg(dy))
	}
}

// plan computes each buffer's life over the program's calls and lays
// the buffers out with compiler.Arena.
func (b *builder) plan() {
	p := b.prog
	for i, c := range append(append([]*call(nil), p.forward...), p.backward...) {
		for _, a := range c.args {
			if x := a.buf; x != nil && x.ext == "" {
				if x.first < 0 {
					x.first = i
				}
				x.last = i
			}
		}
	}
	lives := make([]compiler.Live, len(p.bufs))
	for i, x := range p.bufs {
		lives[i] = compiler.Live{Size: x.size, First: x.first, Last: x.last}
	}
	offs, size := compiler.Arena(lives)
	for i, x := range p.bufs {
		x.off = offs[i]
	}
	p.size = size
}
