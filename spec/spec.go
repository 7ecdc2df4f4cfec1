package spec

import (
	"fmt"
	"slices"
)

// Pos is a place in a spec file. Line and Col count from 1.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is a problem found in a spec, at a place.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Limits on what a spec may give. They are generous for real networks
// (ResNet-638 has 124 blocks in a stage, ImageNet-21k has 21,841 classes,
// inputs of 1024x1024 and more) and keep a spec from describing a network
// so large that even lowering it, with a node per layer, would exhaust
// memory. Whether a network within them fits a machine is for its memory
// estimate to say.
const (
	MaxInputChannels = 1024   // input channels
	MaxInputSize     = 8192   // input height and width
	MaxClasses       = 100000 // classes
	MaxWidth         = 4096   // the first stage's width
	MaxBlocks        = 1024   // blocks per stage
	// MaxGroups bounds gn groups=, which must divide the channels of every
	// norm layer of its stages: the most is the width of a fourth stage.
	MaxGroups  = MaxWidth << 3
	MaxNameLen = 64 // bytes of the model name, which names files and a Go package
)

// Stem is the first layers of the network, before the residual stages.
type Stem int

const (
	// StemCIFAR is a 3x3 stride-1 conv (+norm, ReLU); three stages follow.
	StemCIFAR Stem = iota
	// StemImageNet is a 7x7 stride-2 conv (+norm, ReLU) and a 3x3 stride-2
	// max-pool; four stages follow.
	StemImageNet
)

// Block is the kind of residual block. What the compiler and the
// validation need to know of a kind is in its descriptor, [Block.Info].
type Block int

const (
	// Basic is two 3x3 convs, each followed by its norm; ReLU after the
	// residual add.
	Basic Block = iota
	// Bottleneck is 1x1, 3x3, 1x1 convs with expansion 4.
	Bottleneck
	// PreAct is the pre-activation basic block of the Wide ResNet: norm,
	// ReLU, 3x3 conv, norm, ReLU, 3x3 conv, no ReLU after the add.
	PreAct
)

// BlockInfo describes a kind of residual block: its shape rules and its
// standard depths. The compiler lowers each kind by its own function,
// found by kind; code that needs to know anything else of a block asks
// the descriptor rather than testing the kind.
type BlockInfo struct {
	Name string // as written in a spec
	// Convs is the number of convolutions on a block's residual branch.
	Convs int
	// Expansion is the ratio of a block's output channels to its stage's
	// width before widening.
	Expansion int
	// WidenOutput says that widen multiplies a block's output channels
	// as well as its inner ones (every conv of a basic or preact block);
	// without it widen multiplies only the inner convs (bottleneck, as
	// torchvision's wide_resnet50_2).
	WidenOutput bool
	// PreAct is the pre-activation order: each conv of the residual
	// branch comes after a norm and ReLU; the first of them, on the
	// block's input, also feeds a projection shortcut; no ReLU follows
	// the residual add; the stem has no norm (the first block normalizes
	// its output) and a final norm and ReLU come before pooling. Without
	// it each conv is followed by its norm, the stem has a norm and ReLU,
	// a ReLU follows the add and the last norm of the residual branch
	// starts with gamma 0.
	PreAct bool
	// depths are the standard depths after each stem.
	depths map[Stem]depths
}

// depths are the standard depths of blocks of one kind after one stem:
// those of a table, and, if mul is not 0, every depth mul·n+add (n >= 1)
// with n blocks in every stage.
type depths struct {
	table    map[int][]int
	mul, add int
}

var blocks = [...]BlockInfo{
	Basic: {Name: "basic", Convs: 2, Expansion: 1, WidenOutput: true, depths: map[Stem]depths{
		StemImageNet: {table: map[int][]int{18: {2, 2, 2, 2}, 34: {3, 4, 6, 3}}},
		StemCIFAR: {table: map[int][]int{
			20:  {3, 3, 3},
			32:  {5, 5, 5},
			44:  {7, 7, 7},
			56:  {9, 9, 9},
			110: {18, 18, 18},
		}},
	}},
	Bottleneck: {Name: "bottleneck", Convs: 3, Expansion: 4, depths: map[Stem]depths{
		StemImageNet: {table: map[int][]int{
			50:  {3, 4, 6, 3},
			101: {3, 4, 23, 3},
			152: {3, 8, 36, 3},
			200: {3, 24, 36, 3},
			338: {3, 42, 64, 3},
			518: {3, 66, 100, 3},
			638: {3, 82, 124, 3},
		}},
	}},
	// The Wide ResNet counts depth 6n+4 after the cifar stem (Zagoruyko
	// and Komodakis); after the imagenet stem, the pre-activation
	// ResNet-18 and -34 of He et al.
	PreAct: {Name: "preact", Convs: 2, Expansion: 1, WidenOutput: true, PreAct: true, depths: map[Stem]depths{
		StemImageNet: {table: map[int][]int{18: {2, 2, 2, 2}, 34: {3, 4, 6, 3}}},
		StemCIFAR:    {mul: 6, add: 4},
	}},
}

// Info is the descriptor of a block kind. It panics, naming the kind, for
// a kind that has none: no code may guess what an unknown block is.
func (b Block) Info() BlockInfo {
	if b < 0 || int(b) >= len(blocks) {
		panic(fmt.Sprintf("spec: unknown block kind %d", int(b)))
	}
	return blocks[b]
}

// NormKind is a kind of normalization layer. What code needs to know of
// a kind is in its descriptor, [NormKind.Info].
type NormKind int

const (
	// NoNorm means no normalization layer.
	NoNorm NormKind = iota
	// BN is batch normalization.
	BN
	// MBN is mixture batch normalization: two BNs (clean, adversarial)
	// with their own statistics and affine parameters.
	MBN
	// GN is group normalization.
	GN
)

// NormInfo describes a kind of normalization layer. The compiler and the
// runtime ask the descriptor what a norm does rather than testing its
// kind, so a new kind is a new entry with its kernels, and a kind without
// an entry fails where it is first asked about.
type NormInfo struct {
	Name  string // as written in a spec
	Const string // the name of the kind's constant in this package, for generated code
	// Layer is false for none, which adds no layer at all.
	Layer bool
	// Branches is the number of branches (sets of statistics and affine
	// parameters, one per kind of image: MBN's clean and adversarial)
	// the layer has unless share= says otherwise; 1 for a plain norm.
	Branches int
	// RunningStats says the layer normalizes by the statistics of each
	// channel over the batch when training and keeps running averages of
	// them for inference (BN, MBN).
	RunningStats bool
	// PerImage says the layer normalizes each image by its own
	// statistics, over groups of channels, in training and inference
	// alike (GN; a layer norm is GN with one group).
	PerImage bool
	// Foldable says that with frozen statistics the layer is a
	// per-channel affine map, which the attack path folds into the
	// weights and bias of the convolution before it.
	Foldable bool
	// Groups is the default of groups=, for a kind that takes it; 0 for
	// the others.
	Groups int
}

var norms = [...]NormInfo{
	NoNorm: {Name: "none", Const: "NoNorm"},
	BN:     {Name: "bn", Const: "BN", Layer: true, Branches: 1, RunningStats: true, Foldable: true},
	MBN:    {Name: "mbn", Const: "MBN", Layer: true, Branches: 2, RunningStats: true, Foldable: true},
	GN:     {Name: "gn", Const: "GN", Layer: true, Branches: 1, PerImage: true, Groups: 32},
}

// Info is the descriptor of a norm kind. It panics, naming the kind, for
// a kind that has none: no code may guess what an unknown norm does.
func (k NormKind) Info() NormInfo {
	if k < 0 || int(k) >= len(norms) {
		panic(fmt.Sprintf("spec: unknown norm kind %d", int(k)))
	}
	return norms[k]
}

// Norm is a normalization choice.
type Norm struct {
	Kind   NormKind
	Groups int // GN only; default 32
	// Share is what the two branches of an MBN have in common (the
	// paper's ablation): by default nothing.
	Share Share
}

// Share is what the branches of a Mixture BN share.
type Share int

const (
	// ShareNothing: separate statistics and affine parameters (MBN).
	ShareNothing Share = iota
	// ShareStats: one set of statistics over the whole batch, separate
	// affine parameters per branch.
	ShareStats
	// ShareAffine: separate statistics per branch, one set of affine
	// parameters.
	ShareAffine
)

func (s Share) String() string { return [...]string{"nothing", "stats", "affine"}[s] }

// NormOverride sets the norm of some stages. Stage 0 is the stem.
type NormOverride struct {
	Pos    Pos
	Norm   Norm
	Stages []int
}

// Spec is a validated network description.
type Spec struct {
	File      string
	Model     string    // also the generated Go package name
	Input     [3]int    // channels, height, width
	Mean      []float64 // per input channel (or one for all); pixels in [0,1] are normalized as (x-mean)/std
	Std       []float64
	Classes   int
	Stem      Stem
	Block     Block
	Depth     int   // as written; 0 when the spec gives stages
	Stages    []int // blocks per stage; filled from the depth table when the spec gives depth
	Width     int   // channels of the stem; times the widening, of the first stage; doubled at each stage
	Widen     int   // widening factor as written; 0 when the spec leaves it out, which means 1 (see Widening)
	Norm      Norm  // the default everywhere
	Overrides []NormOverride
}

// Widening is the widening factor: Widen, or 1 when it is 0.
func (s *Spec) Widening() int { return max(s.Widen, 1) }

// StageWidths are the channels of a residual stage's blocks (stage from
// 1): inner, those of the convs inside a block, Width·Widening doubled at
// each stage, and out, those of its output, which differ for a block
// whose descriptor has an expansion or does not widen its output.
func (s *Spec) StageWidths(stage int) (inner, out int) {
	b := s.Block.Info()
	base := s.Width << (stage - 1)
	inner, out = base*s.Widening(), base*b.Expansion
	if b.WidenOutput {
		out *= s.Widening()
	}
	return inner, out
}

// NormAt is the norm of a stage (0 = stem, 1.. = residual stages): that
// of the overrides that name it (which agree), else the default.
func (s *Spec) NormAt(stage int) Norm {
	n := s.Norm
	for _, o := range s.Overrides {
		for _, st := range o.Stages {
			if st == stage {
				n = o.Norm
			}
		}
	}
	return n
}

// Branched reports whether some norm of the spec has more than one
// branch (Mixture BN), so that clean and adversarial images take
// different paths.
func (s *Spec) Branched() bool {
	for st := range s.Stem.NumStages() + 1 {
		if s.NormAt(st).Kind.Info().Branches > 1 {
			return true
		}
	}
	return false
}

// NumStages is the number of residual stages the stem implies: 3 for
// cifar, 4 for imagenet.
func (s Stem) NumStages() int {
	if s == StemImageNet {
		return 4
	}
	return 3
}

func (s Stem) String() string { return [...]string{"cifar", "imagenet"}[s] }

// String is the block's name in a spec, or block(N) for a kind without a
// descriptor.
func (b Block) String() string {
	if b < 0 || int(b) >= len(blocks) {
		return fmt.Sprintf("block(%d)", int(b))
	}
	return blocks[b].Name
}

// String is the norm's name in a spec, or norm(N) for a kind without a
// descriptor.
func (k NormKind) String() string {
	if k < 0 || int(k) >= len(norms) {
		return fmt.Sprintf("norm(%d)", int(k))
	}
	return norms[k].Name
}

// Info is the descriptor of the norm's kind.
func (n Norm) Info() NormInfo { return n.Kind.Info() }

// AffineSets is the number of sets of affine parameters (a scale and a
// shift per channel) the layer has: one per branch unless the branches
// share them; 0 for none.
func (n Norm) AffineSets() int {
	d := n.Info()
	if !d.Layer {
		return 0
	}
	if n.Share == ShareAffine {
		return 1
	}
	return d.Branches
}

// StatSets is the number of sets of running statistics the layer keeps:
// one per branch unless the branches share them; 0 for a kind without
// running statistics.
func (n Norm) StatSets() int {
	d := n.Info()
	if !d.RunningStats {
		return 0
	}
	if n.Share == ShareStats {
		return 1
	}
	return d.Branches
}

// SameNetwork reports whether two specs describe the same network: the
// same layers with the same shapes and norms, whatever their names, files
// and the way they wrote it (depth or stages, widen 1 or none, an
// override or the default).
func SameNetwork(a, b *Spec) bool {
	if a.Input != b.Input || !slices.Equal(a.Mean, b.Mean) || !slices.Equal(a.Std, b.Std) || a.Classes != b.Classes ||
		a.Stem != b.Stem || a.Block != b.Block || !slices.Equal(a.Stages, b.Stages) || a.Width != b.Width || a.Widening() != b.Widening() {
		return false
	}
	for st := range a.Stem.NumStages() + 1 {
		if a.NormAt(st) != b.NormAt(st) {
			return false
		}
	}
	return true
}
