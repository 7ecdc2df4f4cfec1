// Package runtime holds what every netc model links: the Model interface
// that the attacker, trainer and evaluator use, and the tensors and
// parameters it exchanges.
package nn

import (
	"math"

	"github.com/netc/netc/spec"
)

// Tensor is a dense float32 array in row-major order (NCHW for images).
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor returns a zeroed tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// CountTop1 counts the rows of an n×k matrix of logits whose arg max (the
// first on ties) equals want[i], n = len(want).
func CountTop1(logits []float32, k int, want []int) int {
	c := 0
	for i, w := range want {
		row := logits[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == w {
			c++
		}
	}
	return c
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Branch selects the statistics and affine parameters of a Mixture BN.
// Plain BN and GN ignore it.
type Branch int

const (
	// Clean is the branch for clean images (also the only one of plain BN).
	Clean Branch = iota
	// Adv is the branch for adversarial images.
	Adv
)

func (b Branch) String() string { return [...]string{"clean", "adv"}[b] }

// NormMode says how BN normalizes. The zero value is inference.
type NormMode int

const (
	// RunningStats normalizes with the frozen running statistics
	// (inference, and training in the paper's last epochs).
	RunningStats NormMode = iota
	// BatchStats normalizes with the batch's statistics (training); the
	// running averages are updated if Mode.UpdateStats is set.
	BatchStats
)

func (m NormMode) String() string { return [...]string{"running", "batch"}[m] }

// Mode is how a forward pass runs.
type Mode struct {
	Norm NormMode
	// Branch is the MBN branch of every image, unless Split > 0: then the
	// first Split images of the batch go through the clean branch and the
	// rest through the adversarial one.
	Branch Branch
	Split  int
	// UpdateStats lets a BatchStats pass update the running statistics.
	UpdateStats bool
	// InputOnly promises that the Backward after this Forward, if any,
	// asks for the input gradient only (attacks, evaluation): a model may
	// then fold frozen normalization into its convolutions.
	InputOnly bool
	// SameWeights promises that no parameter or running statistic
	// changed since the previous Forward: a model may reuse what it
	// derived from them (packed or BN-folded weights). Attack steps after
	// the first set it.
	SameWeights bool
}

// Grads says which gradients Backward computes.
type Grads int

const (
	// InputOnly computes the gradient w.r.t. the input image only (attacks).
	InputOnly Grads = iota
	// AllGrads also computes every parameter's gradient (training).
	AllGrads
)

// Param is a trainable tensor with its gradient.
type Param struct {
	Name  string // PyTorch-style name, e.g. "layer1.0.conv1.weight"
	Value *Tensor
	Grad  *Tensor
	Decay bool // weight decay applies (conv and linear weights)
	Norm  bool // a normalization layer's affine parameter
}

// NormStats are the running statistics of one BN layer (one branch).
type NormStats struct {
	Name     string // e.g. "layer1.0.bn1" or "layer1.0.bn1.adv"
	Mean     []float32
	Var      []float32
	Momentum float32 // running = (1-m)*running + m*batch
}

// Model is a network that the runtime can train, attack and evaluate.
// A Model is not safe for concurrent use: Forward and Backward keep the
// pass's activations in it. Give each goroutine its own model, or use a
// compiled model's Predict and PredictBatch, which are safe.
type Model interface {
	// Spec is what the model was compiled from.
	Spec() *spec.Spec
	// Forward maps a batch of images x (N, C, H, W, pixels in [0,1]) to
	// logits (N, classes). The result is owned by the model and valid until
	// the next Forward.
	Forward(x *Tensor, m Mode) *Tensor
	// Backward propagates dlogits through the last Forward. With AllGrads
	// it overwrites every Param.Grad.
	Backward(dlogits *Tensor, want Grads)
	// InputGrad is the gradient w.r.t. the input of the last Backward.
	InputGrad() *Tensor
	// Params lists the trainable parameters in a fixed order.
	Params() []*Param
	// NormState lists the running statistics of every BN (per branch for
	// MBN) in a fixed order.
	NormState() []*NormStats
}

// ArenaSizer is implemented by models that run a compiler.Program on
// one arena (a compiled model and the interpreter's kernel path), so
// their activation and gradient memory is known before a pass.
type ArenaSizer interface {
	// ArenaBytesPerImage is the arena's bytes per image of a batch.
	ArenaBytesPerImage() int64
}

// BatchStatser is implemented by models that expose the batch statistics
// of their last Forward (the interpreter's): what each BN normalized with,
// the per-channel mean and (biased) variance of its input over the part of
// the batch that went through the branch.
type BatchStatser interface {
	// BatchStats lists, with NormState's names and order, the batch
	// statistics of the last Forward. A branch that the last Forward did
	// not normalize with batch statistics (running statistics, or an MBN
	// branch no image went through) has nil Mean and Var. The slices are
	// copies.
	BatchStats() []*NormStats
}

// Softmax returns the arg max of one row of logits (the first on ties)
// and the softmax probabilities.
func Softmax(logits []float32) (class int, probs []float32) {
	probs = make([]float32, len(logits))
	if len(logits) == 0 {
		return -1, probs
	}
	for j, v := range logits {
		if v > logits[class] {
			class = j
		}
	}
	sum := 0.0
	for j, v := range logits {
		e := math.Exp(float64(v - logits[class]))
		probs[j] = float32(e)
		sum += e
	}
	for j := range probs {
		probs[j] = float32(float64(probs[j]) / sum)
	}
	return class, probs
}
