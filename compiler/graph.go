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

// Lower builds the graph of a validated spec: the IAT ResNet ("v1.5"):
// stride on the 3x3 conv of a stage's first block, a 1x1 conv + norm
// shortcut where the shape changes, ReLU after the residual add, the last
// norm of each block zero-initialized.
func Lower(s *spec.Spec) (*Graph, error) {
	if len(s.Stages) != s.Stem.NumStages() {
		return nil, fmt.Errorf("%s: %d stages, the %s stem needs %d", s.File, len(s.Stages), s.Stem, s.Stem.NumStages())
	}
	b := &builder{g: &Graph{Spec: s}, inBlock: -1}
	x := b.add(&Node{Op: Input, Name: "input", C: s.Input[0], H: s.Input[1], W: s.Input[2]})

	// Stem.
	w := s.Width
	if s.Stem == spec.StemImageNet {
		x = b.conv("conv1", x, w, 7, 2, 3)
	} else {
		x = b.conv("conv1", x, w, 3, 1, 1)
	}
	x = b.relu(b.norm("bn1", x, 0, false))
	if s.Stem == spec.StemImageNet {
		x = b.add(&Node{Op: MaxPool, Name: "maxpool", In: []*Node{x}, C: x.C,
			H: outSize(x.H, 3, 2, 1), W: outSize(x.W, 3, 2, 1), Kernel: 3, Stride: 2, Pad: 1})
	}

	// Residual stages.
	for si, blocks := range s.Stages {
		stage := si + 1
		width := s.Width << si
		for bi := 0; bi < blocks; bi++ {
			stride := 1
			if bi == 0 && si > 0 {
				stride = 2
			}
			b.inStage, b.inBlock = stage, bi
			x = b.block(BlockName(stage, bi), x, stage, width, stride)
		}
	}
	b.inStage, b.inBlock = 0, -1

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

func (b *builder) param(n *Node, suffix string, shape []int, init Init, decay bool, branch int) {
	name := n.Name + "." + suffix
	if branch == 1 {
		name = n.Name + ".adv." + suffix
	}
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
	if nm.Kind == spec.NoNorm {
		return x
	}
	n := b.add(&Node{Op: Norm, Name: name, In: []*Node{x}, C: x.C, H: x.H, W: x.W,
		Norm: nm, ZeroInit: zeroInit})
	gamma := Ones
	if zeroInit {
		gamma = Zeros
	}
	branches := 1 // sets of affine parameters
	if nm.Kind == spec.MBN && nm.Share != spec.ShareAffine {
		branches = 2
	}
	for br := 0; br < branches; br++ {
		b.param(n, "weight", []int{x.C}, gamma, false, br)
		b.param(n, "bias", []int{x.C}, Zeros, false, br)
	}
	return n
}

func (b *builder) relu(x *Node) *Node {
	return b.add(&Node{Op: ReLU, Name: x.Name + ".relu", In: []*Node{x}, C: x.C, H: x.H, W: x.W})
}

// block adds one residual block of a stage: basic (3x3, 3x3) or bottleneck
// (1x1, 3x3 with the stride, 1x1 expanding by 4).
func (b *builder) block(name string, x *Node, stage, width, stride int) *Node {
	s := b.g.Spec
	out := width * s.Block.Expansion()
	var y *Node
	if s.Block == spec.Bottleneck {
		y = b.relu(b.norm(name+".bn1", b.conv(name+".conv1", x, width, 1, 1, 0), stage, false))
		y = b.relu(b.norm(name+".bn2", b.conv(name+".conv2", y, width, 3, stride, 1), stage, false))
		y = b.norm(name+".bn3", b.conv(name+".conv3", y, out, 1, 1, 0), stage, true)
	} else {
		y = b.relu(b.norm(name+".bn1", b.conv(name+".conv1", x, width, 3, stride, 1), stage, false))
		y = b.norm(name+".bn2", b.conv(name+".conv2", y, out, 3, 1, 1), stage, true)
	}
	short := x
	if stride != 1 || x.C != out {
		short = b.norm(name+".downsample.1", b.conv(name+".downsample.0", x, out, 1, stride, 0), stage, false)
	}
	sum := b.add(&Node{Op: Add, Name: name + ".add", In: []*Node{y, short}, C: out, H: y.H, W: y.W})
	return b.relu(sum)
}
