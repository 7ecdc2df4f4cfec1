package compiler

import (
	"fmt"
	"strings"
)

// Pass is the kind of pass a Program computes.
type Pass int

const (
	// TrainPass is a training (or evaluation) pass: the forward keeps what
	// the backward needs; the backward computes the input gradient and,
	// when the caller asks, every parameter gradient.
	TrainPass Pass = iota
	// AttackPass is the attacker's pass: running statistics frozen, BN
	// folded into the convolutions (see Fuse), the input gradient only.
	AttackPass
)

func (p Pass) String() string { return [...]string{"train", "attack"}[p] }

// Program is a graph lowered for one Pass: the ordered kernel calls of
// its forward and backward halves on named buffers, each buffer with its
// life over those calls and its place in one arena. It is the one place
// the schedule lives: runtime/interp executes it, codegen prints it as
// Go, so the two run the same calls on the same memory.
type Program struct {
	Graph             *Graph
	Pass              Pass
	Forward, Backward []*Call
	// Buffers are every buffer the calls name: the arena's, then none
	// but the four External ones, created on first use.
	Buffers []*Buffer
	// ArenaSize is the arena's size in floats per image.
	ArenaSize int
}

// External names a buffer the caller owns, outside the arena.
type External int

const (
	// InArena is a buffer of the arena.
	InArena External = iota
	// Image is the input batch (pixels in [0,1], plain NCHW).
	Image
	// Logits is the output.
	Logits
	// DLogits is the gradient of the loss with respect to the logits.
	DLogits
	// DImage is where the backward writes the input gradient.
	DImage
)

// Buffer is a tensor of a program: a node's output, its gradient, or
// scratch for a gradient that accumulate then adds.
type Buffer struct {
	ID   int
	Node *Node // whose output or gradient it holds
	Grad bool  // a gradient buffer
	Size int   // floats per image
	// First and Last are the calls that use it first and last, counting
	// the forward's calls then the backward's; an arena buffer shares
	// memory only with buffers whose lives do not overlap.
	First, Last int
	// Offset is its place in the arena in floats per image.
	Offset   int
	External External
}

// CallOp is the operation of a call: a layer's forward or backward, an
// elementwise pass, or a copy. Every call reads some of X, Z and DY and
// writes Y.
type CallOp int

const (
	// InputOp normalizes Image (X) into Y (layers.Input.Forward).
	InputOp CallOp = iota
	// InputBackward writes the input gradient of DY into DImage (Y).
	InputBackward
	// ConvOp is Node's convolution of X into Y.
	ConvOp
	// ConvBackward writes the gradient of the conv's input into Y from
	// the saved input X and DY (and the weight gradient when asked).
	ConvBackward
	// FoldedConv is Node's convolution with Fold's BN folded into it:
	// Y = relu?(bn(conv(X)) + Z), Z the residual or nil.
	FoldedConv
	// FoldedConvBackward writes the input gradient of DY through the
	// folded convolution into Y.
	FoldedConvBackward
	// NormOp normalizes X into Y, computing the ReLU after it if ReLU.
	NormOp
	// NormBackward writes the norm's input gradient into Y from the
	// saved input X, the ReLU's output Z (the mask; nil without ReLU) and
	// DY, and its parameters' gradients when asked.
	NormBackward
	// ReLUOp is Y = max(X, 0).
	ReLUOp
	// ReLUBackward masks DY by the ReLU's output Z into Y.
	ReLUBackward
	// AddOp is Y = X + Z (a residual sum, or a gradient accumulated in
	// place when Y is X).
	AddOp
	// Copy copies X into Y.
	Copy
	// MaxPoolOp pools X into Y, keeping the arg max.
	MaxPoolOp
	// MaxPoolBackward routes DY to the arg max, into Y.
	MaxPoolBackward
	// AvgPoolOp averages X over each channel's pixels into Y.
	AvgPoolOp
	// AvgPoolBackward spreads DY over the pixels, into Y.
	AvgPoolBackward
	// LinearOp is Node's classifier, X into Y.
	LinearOp
	// LinearBackward writes the gradient of the linear layer's input into
	// Y from X and DY (and the parameter gradients when asked).
	LinearBackward
)

var callOpNames = [...]string{"input", "input.backward", "conv", "conv.backward", "foldedconv", "foldedconv.backward",
	"norm", "norm.backward", "relu", "relu.backward", "add", "copy", "maxpool", "maxpool.backward",
	"avgpool", "avgpool.backward", "linear", "linear.backward"}

func (o CallOp) String() string { return callOpNames[o] }

// Call is one kernel call of a program.
type Call struct {
	Op CallOp
	// Node is the graph node the call is made for: the layer whose
	// parameters and state it uses (conv, norm, linear, max-pool), or the
	// node whose output or gradient it computes.
	Node *Node
	// Fold is what FoldedConv and FoldedConvBackward fold: Fold.Norm's
	// parameters and statistics.
	Fold *Fold
	// ReLU says NormOp computes the ReLU after it and FoldedConv clamps.
	ReLU bool
	// X and Z are the operands, DY the incoming gradient (nil where the
	// operation takes none); Y is what the call writes.
	X, Z, DY, Y *Buffer
	// Stage and Block are the residual block the call belongs to, as in
	// Node (Block -1 outside blocks).
	Stage, Block int
	// Final lists the parameters whose gradient is complete once the
	// call has run: where a data-parallel trainer may start reducing
	// them while the backward goes on.
	Final []*Param
	// Recompute is reserved for recomputation: a forward call the
	// backward repeats instead of keeping its output.
	Recompute bool
}

// Buffers lists the call's buffers: X, Z, DY and Y, those that are set.
func (c *Call) Buffers() []*Buffer {
	var bs []*Buffer
	for _, b := range []*Buffer{c.X, c.Z, c.DY, c.Y} {
		if b != nil {
			bs = append(bs, b)
		}
	}
	return bs
}

// Calls lists the forward's calls and then the backward's.
func (p *Program) Calls() []*Call {
	return append(append([]*Call(nil), p.Forward...), p.Backward...)
}

// Supported reports why the kernel path cannot run g, or nil: every
// tensor but the input and the logits must have a multiple of block
// channels (the blocked NCHW16c layout).
func Supported(g *Graph, block int) error {
	for _, nd := range g.Nodes[1:] {
		if nd.C%block != 0 && nd.Op != Linear {
			return fmt.Errorf("%s: layer %s has %d channels; the kernel path needs multiples of %d", g.Spec.File, nd.Name, nd.C, block)
		}
	}
	return nil
}

// Program lowers g for pass. The attack pass exists only if some BN
// folds into a conv: else it returns nil, and the train program serves
// the attack too.
func (g *Graph) Program(pass Pass) *Program {
	fu := Fuse(g)
	if pass == AttackPass && len(fu.Folds) == 0 {
		return nil
	}
	b := &planner{g: g, fu: fu, fold: pass == AttackPass, prog: &Program{Graph: g, Pass: pass}, owner: map[*Buffer]int{}}
	n := len(g.Nodes)
	b.out, b.grad, b.set = make([]*Buffer, n), make([]*Buffer, n), make([]bool, n)
	b.build()
	return b.prog
}

// ArenaSize is the arena's floats per image that both programs of a
// graph share: train's, or attack's if larger (attack may be nil).
func ArenaSize(train, attack *Program) int {
	if attack == nil {
		return train.ArenaSize
	}
	return max(train.ArenaSize, attack.ArenaSize)
}

// planner lowers a graph to a Program. Backward gradients flow as in a
// tape: the first gradient to reach a node is written into the node's
// own buffer (or handed over from its consumer's when nothing else
// needs it), later ones into scratch that an AddOp accumulates.
type planner struct {
	g     *Graph
	fu    *Fusion
	fold  bool // the attack pass: fu.Folds apply
	prog  *Program
	calls *[]*Call
	out   []*Buffer // forward outputs by node ID
	grad  []*Buffer // gradients by node ID
	set   []bool
	owner map[*Buffer]int // the node a gradient buffer belongs to
}

func (b *planner) folds(nd *Node) (*Fold, bool) {
	fl, ok := b.fu.Folds[nd.ID]
	return fl, ok && b.fold
}

func (b *planner) newBuf(nd *Node, grad bool, ext External) *Buffer {
	x := &Buffer{ID: len(b.prog.Buffers), Node: nd, Grad: grad, Size: nd.Size(), First: -1, External: ext}
	b.prog.Buffers = append(b.prog.Buffers, x)
	return x
}

// emit appends a call made for node nd.
func (b *planner) emit(c *Call) *Call {
	c.Stage, c.Block = c.Node.Stage, c.Node.Block
	*b.calls = append(*b.calls, c)
	return c
}

// output is a node's forward output, made on first use.
func (b *planner) output(nd *Node) *Buffer {
	if b.out[nd.ID] == nil {
		b.out[nd.ID] = b.newBuf(nd, false, InArena)
	}
	return b.out[nd.ID]
}

func (b *planner) build() {
	g := b.g
	last := g.Output()
	b.out[last.ID] = b.newBuf(last, false, Logits)
	b.calls = &b.prog.Forward
	for _, nd := range g.Nodes {
		b.forward(nd)
	}
	b.calls = &b.prog.Backward
	b.grad[last.ID] = b.newBuf(last, true, DLogits)
	b.owner[b.grad[last.ID]] = last.ID
	b.set[last.ID] = true
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		b.backward(g.Nodes[i])
	}
	b.finalHooks()
	b.plan()
}

func (b *planner) forward(nd *Node) {
	if b.fold && b.fu.Folded[nd.ID] {
		return
	}
	if fl, ok := b.folds(nd); ok {
		c := &Call{Op: FoldedConv, Node: nd, Fold: fl, ReLU: fl.ReLU, X: b.output(nd.In[0]), Y: b.output(fl.Out)}
		if fl.Res != nil {
			c.Z = b.output(fl.Res)
		}
		b.emit(c)
		return
	}
	// op runs nd on its first operand.
	op := func(o CallOp) { b.emit(&Call{Op: o, Node: nd, X: b.output(nd.In[0]), Y: b.output(nd)}) }
	switch nd.Op {
	case Input:
		b.emit(&Call{Op: InputOp, Node: nd, X: b.newBuf(nd, false, Image), Y: b.output(nd)})
	case Conv:
		op(ConvOp)
	case Linear:
		op(LinearOp)
	case Norm:
		y, relu := nd, false
		if r := b.fu.ReLUOf[nd.ID]; r != nil {
			y, relu = r, true
		}
		b.emit(&Call{Op: NormOp, Node: nd, ReLU: relu, X: b.output(nd.In[0]), Y: b.output(y)})
	case ReLU:
		if !b.fu.Fused[nd.ID] {
			op(ReLUOp)
		}
	case Add:
		b.emit(&Call{Op: AddOp, Node: nd, X: b.output(nd.In[0]), Z: b.output(nd.In[1]), Y: b.output(nd)})
	case MaxPool:
		op(MaxPoolOp)
	case AvgPool:
		op(AvgPoolOp)
	default:
		panic(fmt.Sprintf("compiler: no forward for op %v", nd.Op))
	}
}

// target is where a backward call writes the gradient of its operand in:
// in's gradient buffer the first time, else scratch that accumulate then
// adds to it.
func (b *planner) target(in *Node) *Buffer {
	if !b.set[in.ID] {
		b.grad[in.ID] = b.newBuf(in, true, InArena)
		b.owner[b.grad[in.ID]] = in.ID
		return b.grad[in.ID]
	}
	return b.newBuf(in, true, InArena)
}

func (b *planner) accumulate(nd, in *Node, t *Buffer) {
	if !b.set[in.ID] {
		b.set[in.ID] = true
		return
	}
	g := b.grad[in.ID]
	b.emit(&Call{Op: AddOp, Node: nd, X: g, Z: t, Y: g})
}

// handOver passes node nd's gradient dy on to its operand in: the buffer
// itself if in has none yet and nd still owns it, else a copy.
func (b *planner) handOver(nd, in *Node, dy *Buffer) {
	if !b.set[in.ID] && b.owner[dy] == nd.ID {
		b.grad[in.ID], b.set[in.ID] = dy, true
		b.owner[dy] = in.ID
		return
	}
	t := b.target(in)
	b.emit(&Call{Op: Copy, Node: nd, X: dy, Y: t})
	b.accumulate(nd, in, t)
}

func (b *planner) backward(nd *Node) {
	if !b.set[nd.ID] {
		panic(fmt.Sprintf("compiler: no gradient reaches %s", nd.Name))
	}
	dy := b.grad[nd.ID]
	var in *Node
	if len(nd.In) > 0 {
		in = nd.In[0]
	}
	// op writes in's gradient with one call.
	op := func(c *Call) {
		c.Node, c.DY = nd, dy
		c.Y = b.target(in)
		b.emit(c)
		b.accumulate(nd, in, c.Y)
	}
	switch nd.Op {
	case Input:
		b.emit(&Call{Op: InputBackward, Node: nd, DY: dy, Y: b.newBuf(nd, true, DImage)})
	case Conv:
		if fl, ok := b.folds(nd); ok {
			op(&Call{Op: FoldedConvBackward, Fold: fl})
		} else {
			op(&Call{Op: ConvBackward, X: b.output(in)})
		}
	case Norm:
		if b.fold && b.fu.Folded[nd.ID] { // scaled into the conv's weights
			b.handOver(nd, in, dy)
			break
		}
		c := &Call{Op: NormBackward, X: b.output(in)}
		if r := b.fu.ReLUOf[nd.ID]; r != nil {
			c.Z, c.ReLU = b.output(r), true
		}
		op(c)
	case ReLU:
		if b.fu.Fused[nd.ID] && !b.fold { // the norm layer takes dy and the mask
			b.grad[in.ID], b.set[in.ID] = dy, true
			b.owner[dy] = in.ID
			break
		}
		op(&Call{Op: ReLUBackward, Z: b.output(nd)})
	case Add:
		b.handOver(nd, nd.In[0], dy)
		b.handOver(nd, nd.In[1], dy)
	case MaxPool:
		op(&Call{Op: MaxPoolBackward})
	case AvgPool:
		op(&Call{Op: AvgPoolBackward})
	case Linear:
		op(&Call{Op: LinearBackward, X: b.output(in)})
	default:
		panic(fmt.Sprintf("compiler: no backward for op %v", nd.Op))
	}
}

// finalHooks marks, on the train pass, the backward call after which
// each parameter's gradient is complete: the one backward call of the
// parameter's layer (each layer runs once).
func (b *planner) finalHooks() {
	if b.fold {
		return
	}
	byNode := map[*Node][]*Param{}
	for _, p := range b.g.Params {
		byNode[p.Node] = append(byNode[p.Node], p)
	}
	for _, c := range b.prog.Backward {
		switch c.Op {
		case ConvBackward, NormBackward, LinearBackward:
			c.Final = byNode[c.Node]
		}
	}
}

// plan computes each buffer's life over the program's calls and lays
// the arena buffers out with Arena.
func (b *planner) plan() {
	p := b.prog
	for i, c := range p.Calls() {
		for _, x := range c.Buffers() {
			if x.First < 0 {
				x.First = i
			}
			x.Last = i
		}
	}
	var lives []Live
	var inArena []*Buffer
	for _, x := range p.Buffers {
		if x.External == InArena {
			lives = append(lives, Live{Size: x.Size, First: x.First, Last: x.Last})
			inArena = append(inArena, x)
		}
	}
	offs, size := Arena(lives)
	for i, x := range inArena {
		x.Offset = offs[i]
	}
	p.ArenaSize = size
}

// String lists the program: a line per call, its operands as buffer
// numbers (#ID), and a line per buffer with its life and arena place.
func (p *Program) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "program %s of %s: %d calls, %d buffers, arena %d floats per image\n",
		p.Pass, p.Graph.Spec.Model, len(p.Forward)+len(p.Backward), len(p.Buffers), p.ArenaSize)
	for i, c := range p.Calls() {
		if i == 0 {
			s.WriteString("forward:\n")
		} else if i == len(p.Forward) {
			s.WriteString("backward:\n")
		}
		fmt.Fprintf(&s, "  %4d %-19s %-24s", i, c.Op, c.Node.Name)
		for _, o := range []struct {
			name string
			b    *Buffer
		}{{"x", c.X}, {"z", c.Z}, {"dy", c.DY}, {"y", c.Y}} {
			if o.b != nil {
				fmt.Fprintf(&s, " %s=#%d", o.name, o.b.ID)
			}
		}
		if c.Fold != nil {
			fmt.Fprintf(&s, " fold=%s", c.Fold.Norm.Name)
		}
		if c.ReLU {
			s.WriteString(" relu")
		}
		if len(c.Final) > 0 {
			s.WriteString(" final:")
			for _, q := range c.Final {
				s.WriteString(" " + q.Name)
			}
		}
		s.WriteString("\n")
	}
	s.WriteString("buffers:\n")
	for _, b := range p.Buffers {
		what := "output"
		if b.Grad {
			what = "gradient"
		}
		where := fmt.Sprintf("arena %d", b.Offset)
		if b.External != InArena {
			where = [...]string{"", "image", "logits", "dlogits", "input gradient"}[b.External]
		}
		fmt.Fprintf(&s, "  #%-4d %-8s of %-24s %8d floats, calls %d-%d, %s\n", b.ID, what, b.Node.Name, b.Size, b.First, b.Last, where)
	}
	return s.String()
}
