package spec

import "fmt"

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

// Block is the kind of residual block.
type Block int

const (
	// Basic is two 3x3 convs.
	Basic Block = iota
	// Bottleneck is 1x1, 3x3, 1x1 convs with expansion 4.
	Bottleneck
)

// NormKind is a kind of normalization layer.
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
	Width     int   // channels of the first stage; doubled at each stage
	Norm      Norm  // the default everywhere
	Overrides []NormOverride
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

// NumStages is the number of residual stages the stem implies: 3 for
// cifar, 4 for imagenet.
func (s Stem) NumStages() int {
	if s == StemImageNet {
		return 4
	}
	return 3
}

func (s Stem) String() string  { return [...]string{"cifar", "imagenet"}[s] }
func (b Block) String() string { return [...]string{"basic", "bottleneck"}[b] }
func (k NormKind) String() string {
	return [...]string{"none", "bn", "mbn", "gn"}[k]
}

// Expansion is the ratio of a block's output channels to its width.
func (b Block) Expansion() int {
	if b == Bottleneck {
		return 4
	}
	return 1
}
