// Package compiler lowers a spec to netc's IR: a graph of ops with static
// per-image shapes, the parameters they own, and the counts a user plans
// with (parameters, multiply-adds, memory).
package compiler

import (
	"fmt"

	"github.com/netc/netc/spec"
)

// Op is the kind of a node.
type Op int

const (
	// Input normalizes pixels in [0,1]: y = (x - mean[c]) / std[c].
	Input Op = iota
	// Conv is a 2-D convolution without bias.
	Conv
	// Norm is a normalization layer (BN, MBN or GN) with an affine part.
	Norm
	// ReLU is max(x, 0).
	ReLU
	// Add is the residual sum of two nodes.
	Add
	// MaxPool is a square max-pooling window.
	MaxPool
	// AvgPool is global average pooling to one value per channel.
	AvgPool
	// Linear is the fully connected classifier with bias.
	Linear
)

var opNames = [...]string{"input", "conv", "norm", "relu", "add", "maxpool", "avgpool", "linear"}

func (o Op) String() string { return opNames[o] }

// Node is one op of the graph. Shapes are per image (the batch size is a
// run-time dimension); the node's output is C×H×W.
type Node struct {
	ID      int
	Op      Op
	Name    string  // layer name, e.g. "layer1.0.conv1"; parameters are Name+".weight" etc.
	In      []*Node // operands
	C, H, W int     // output shape per image

	// Conv and MaxPool: square kernel, stride and padding.
	Kernel, Stride, Pad int
	// Norm: the normalization.
	Norm spec.Norm
	// Stage is the residual stage a node belongs to (1..; 0 = the stem
	// and the head) and Block its block's index in the stage (-1 outside
	// residual blocks).
	Stage, Block int
	// ZeroInit marks the last norm of a residual block, whose gamma starts at 0.
	ZeroInit bool
}

// Size is the number of values the node outputs per image.
func (n *Node) Size() int { return n.C * n.H * n.W }

// Init says how a parameter starts.
type Init int

const (
	// Zeros fills with 0.
	Zeros Init = iota
	// Ones fills with 1.
	Ones
	// HeFanOut draws from N(0, 2/fan_out), fan_out = K·R·S (conv weights).
	HeFanOut
	// Normal001 draws from N(0, 0.01²) (the classifier's weights).
	Normal001
)

// Param is a trainable tensor of a node.
type Param struct {
	Name   string // e.g. "layer1.0.bn1.weight"; MBN's adversarial branch adds ".adv" to the layer name
	Node   *Node
	Shape  []int
	Init   Init
	Decay  bool // weight decay applies (conv and linear weights)
	Branch int  // MBN branch: 0 clean (and every non-MBN parameter), 1 adversarial
}

// Size is the number of values.
func (p *Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Graph is a lowered network.
type Graph struct {
	Spec   *spec.Spec
	Nodes  []*Node // in execution order; Nodes[0] is the input, the last is the logits
	Params []*Param
}

// Output is the node holding the logits.
func (g *Graph) Output() *Node { return g.Nodes[len(g.Nodes)-1] }

// NormLayers lists the Norm nodes in execution order.
func (g *Graph) NormLayers() []*Node {
	var ns []*Node
	for _, n := range g.Nodes {
		if n.Op == Norm {
			ns = append(ns, n)
		}
	}
	return ns
}

// Lower builds the graph of a validated spec. Each kind of block is
// lowered by its own function (see blockLowerings); the spec's block
// descriptor says the rest. Post-activation blocks (basic, bottleneck)
// make the IAT ResNet ("v1.5"): stride on the 3x3 conv of a stage's first
// block, a 1x1 conv + norm shortcut where the shape changes, ReLU after
// the residual add, the last norm of each block zero-initialized, a norm
// and ReLU in the stem. Pre-activation blocks (preact) make the Wide
// ResNet: a stem of one conv, blocks that normalize their input, a 1x1
// conv shortcut on the pre-activated input where the shape changes, no
// ReLU after the add, a final norm (named "bn") and ReLU before pooling,
// every gamma starting at 1.
func Lower(s *spec.Spec) (*Graph, error) {
	if len(s.Stages) != s.Stem.NumStages() {
		return nil, fmt.Errorf("%s: %d stages, the %s stem needs %d", s.File, len(s.Stages), s.Stem, s.Stem.NumStages())
	}
	lower, ok := blockLowerings[s.Block]
	if !ok {
		return nil, fmt.Errorf("%s: the compiler cannot lower %s blocks", s.File, s.Block)
	}
	pre := s.Block.Info().PreAct
	b := &builder{g: &Graph{Spec: s}, inBlock: -1}
	x := b.add(&Node{Op: Input, Name: "input", C: s.Input[0], H: s.Input[1], W: s.Input[2]})

	// Stem.
	w := s.Width
	if s.Stem == spec.StemImageNet {
		x = b.conv("conv1", x, w, 7, 2, 3)
	} else {
		x = b.conv("conv1", x, w, 3, 1, 1)
	}
	if !pre {
		x = b.relu(b.norm("bn1", x, 0, false))
	}
	if s.Stem == spec.StemImageNet {
		x = b.add(&Node{Op: MaxPool, Name: "maxpool", In: []*Node{x}, C: x.C,
			H: outSize(x.H, 3, 2, 1), W: outSize(x.W, 3, 2, 1), Kernel: 3, Stride: 2, Pad: 1})
	}

	// Residual stages.
	for si, blocks := range s.Stages {
		stage := si + 1
		inner, out := s.StageWidths(stage)
		for bi := 0; bi < blocks; bi++ {
			stride := 1
			if bi == 0 && si > 0 {
				stride = 2
			}
			b.inStage, b.inBlock = stage, bi
			x = lower(b, block{BlockName(stage, bi), x, stage, inner, out, stride})
		}
	}
	b.inStage, b.inBlock = 0, -1
	if pre {
		x = b.reluNamed("relu", b.norm("bn", x, len(s.Stages), false))
	}

	x = b.add(&Node{Op: AvgPool, Name: "avgpool", In: []*Node{x}, C: x.C, H: 1, W: 1})
	fc := b.add(&Node{Op: Linear, Name: "fc", In: []*Node{x}, C: s.Classes, H: 1, W: 1})
	b.param(fc, "weight", []int{s.Classes, x.C}, Normal001, true, 0)
	b.param(fc, "bias", []int{s.Classes}, Zeros, false, 0)
	for _, n := range b.g.Nodes {
		if n.H < 1 || n.W < 1 {
			return nil, fmt.Errorf("%s: input %dx%d is too small: %s would be %dx%d", s.File, s.Input[1], s.Input[2], n.Name, n.H, n.W)
		}
	}
	return b.g, nil
}

// BlockName is the name of block i of a stage, the prefix of its layers'
// names: torchvision's "layer3.17".
func BlockName(stage, i int) string { return fmt.Sprintf("layer%d.%d", stage, i) }

// InBlock reports whether the node belongs to a residual block.
func (n *Node) InBlock() bool { return n.Block >= 0 }

type builder struct {
	g                *Graph
	inStage, inBlock int // of the nodes being added
}

func (b *builder) add(n *Node) *Node {
	n.ID = len(b.g.Nodes)
	n.Stage, n.Block = b.inStage, b.inBlock
	b.g.Nodes = append(b.g.Nodes, n)
	return n
}

// BranchName names what a norm layer keeps for a branch (its affine
// parameters, with ".weight" or ".bias" after the name, and its running
// statistics): the layer's name for branch 0, with ".adv" after it for
// the adversarial branch 1 of a Mixture BN.
func BranchName(layer string, branch int) string {
	if branch == 1 {
		return layer + ".adv"
	}
	return layer
}

func (b *builder) param(n *Node, suffix string, shape []int, init Init, decay bool, branch int) {
	name := BranchName(n.Name, branch) + "." + suffix
	b.g.Params = append(b.g.Params, &Param{Name: name, Node: n, Shape: shape, Init: init, Decay: decay, Branch: branch})
}

func outSize(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

func (b *builder) conv(name string, x *Node, cout, k, stride, pad int) *Node {
	n := b.add(&Node{Op: Conv, Name: name, In: []*Node{x}, C: cout,
		H: outSize(x.H, k, stride, pad), W: outSize(x.W, k, stride, pad),
		Kernel: k, Stride: stride, Pad: pad})
	b.param(n, "weight", []int{cout, x.C, k, k}, HeFanOut, true, 0)
	return n
}

// norm adds the normalization of a stage after x; with norm none it is
// the identity and adds nothing.
func (b *builder) norm(name string, x *Node, stage int, zeroInit bool) *Node {
	nm := b.g.Spec.NormAt(stage)
	if !nm.Info().Layer {
		return x
	}
	n := b.add(&Node{Op: Norm, Name: name, In: []*Node{x}, C: x.C, H: x.H, W: x.W,
		Norm: nm, ZeroInit: zeroInit})
	gamma := Ones
	if zeroInit {
		gamma = Zeros
	}
	for br := range nm.AffineSets() {
		b.param(n, "weight", []int{x.C}, gamma, false, br)
		b.param(n, "bias", []int{x.C}, Zeros, false, br)
	}
	return n
}

// relu adds a ReLU after x, named after it.
func (b *builder) relu(x *Node) *Node { return b.reluNamed(x.Name+".relu", x) }

func (b *builder) reluNamed(name string, x *Node) *Node {
	return b.add(&Node{Op: ReLU, Name: name, In: []*Node{x}, C: x.C, H: x.H, W: x.W})
}

// block is what a block's lowering gets: its name ("layer2.0"), its
// input, stage, inner and output channels and stride.
type block struct {
	name              string
	x                 *Node
	stage, inner, out int
	stride            int
}

// blockLowerings lower each kind of block, returning its output.
var blockLowerings = map[spec.Block]func(*builder, block) *Node{
	spec.Basic:      (*builder).basic,
	spec.Bottleneck: (*builder).bottleneck,
	spec.PreAct:     (*builder).preact,
}

// basic is two 3x3 convs, the first with the stride.
func (b *builder) basic(k block) *Node {
	y := b.relu(b.norm(k.name+".bn1", b.conv(k.name+".conv1", k.x, k.inner, 3, k.stride, 1), k.stage, false))
	y = b.norm(k.name+".bn2", b.conv(k.name+".conv2", y, k.out, 3, 1, 1), k.stage, true)
	return b.residual(k, y)
}

// bottleneck is 1x1, 3x3 with the stride, 1x1 to the output channels.
func (b *builder) bottleneck(k block) *Node {
	y := b.relu(b.norm(k.name+".bn1", b.conv(k.name+".conv1", k.x, k.inner, 1, 1, 0), k.stage, false))
	y = b.relu(b.norm(k.name+".bn2", b.conv(k.name+".conv2", y, k.inner, 3, k.stride, 1), k.stage, false))
	y = b.norm(k.name+".bn3", b.conv(k.name+".conv3", y, k.out, 1, 1, 0), k.stage, true)
	return b.residual(k, y)
}

// residual ends a post-activation block whose residual branch is y: the
// sum with the input, or with its 1x1 conv + norm projection where the
// shape changes, then a ReLU.
func (b *builder) residual(k block, y *Node) *Node {
	short := k.x
	if k.stride != 1 || k.x.C != k.out {
		short = b.norm(k.name+".downsample.1", b.conv(k.name+".downsample.0", k.x, k.out, 1, k.stride, 0), k.stage, false)
	}
	sum := b.add(&Node{Op: Add, Name: k.name + ".add", In: []*Node{y, short}, C: k.out, H: y.H, W: y.W})
	return b.relu(sum)
}

// preact is the pre-activation basic block: norm, ReLU, 3x3 conv with
// the stride, norm, ReLU, 3x3 conv, added to the input or, where the
// shape changes, to a 1x1 conv of the pre-activated input; no ReLU after
// the sum.
func (b *builder) preact(k block) *Node {
	a := b.reluNamed(k.name+".relu1", b.norm(k.name+".bn1", k.x, k.stage, false))
	y := b.conv(k.name+".conv1", a, k.inner, 3, k.stride, 1)
	y = b.reluNamed(k.name+".relu2", b.norm(k.name+".bn2", y, k.stage, false))
	y = b.conv(k.name+".conv2", y, k.out, 3, 1, 1)
	short := k.x
	if k.stride != 1 || k.x.C != k.out {
		short = b.conv(k.name+".downsample.0", a, k.out, 1, k.stride, 0)
	}
	return b.add(&Node{Op: Add, Name: k.name + ".add", In: []*Node{y, short}, C: k.out, H: y.H, W: y.W})
}
