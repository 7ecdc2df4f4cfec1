package interp

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// Model is the float32 interpreter behind the nn.Model interface.
// It is not safe for concurrent use (a pass keeps its activations and
// scratch in the model): give each goroutine its own.
type Model struct {
	net    *Net[float32]
	fast   *fast // nil: the net runs on ref's ops
	params []*nn.Param
	stats  []*nn.NormStats
	bns    []normBranch // the norm layer and branch of each stats entry
	logits nn.Tensor
	dx     nn.Tensor
}

var (
	_ nn.Model        = (*Model)(nil)
	_ nn.BatchStatser = (*Model)(nil)
)

// normBranch is one branch of a BN layer.
type normBranch struct {
	nd *compiler.Node
	br nn.Branch
}

// Options choose how a Model runs.
type Options struct {
	// GEMM runs the convolutions on the GEMM kernels and the rest on
	// ref's ops even where the blocked kernel path could run (to compare
	// the two).
	GEMM bool
}

// NewModel lowers a spec and initializes its parameters from seed, with
// the default Options. It runs the spec's compiler.Program on the kernels
// of package kernels for the ISA kernels.Select returns, with blocked
// activations, when every layer but the input and the logits has a
// multiple of 16 channels; otherwise its convolutions run on the GEMM
// kernels and the rest on ref's ops. With the generic ISA everything runs
// on ref's ops.
func NewModel(s *spec.Spec, seed uint64) (*Model, error) { return NewModelWith(s, seed, Options{}) }

// NewModelWith is NewModel with options o.
func NewModelWith(s *spec.Spec, seed uint64, o Options) (*Model, error) {
	g, err := compiler.Lower(s)
	if err != nil {
		return nil, err
	}
	net := New[float32](g, rand.New(rand.NewPCG(seed, 0x6e657463)))
	isa, err := kernels.Select()
	if err != nil {
		return nil, err
	}
	m := &Model{net: net}
	switch {
	case isa == kernels.Generic: // the pure-Go kernels are slower than ref's
	case compiler.Supported(g, kernels.Block) == nil && !o.GEMM:
		m.fast = newFast(net, isa)
	default:
		net.SetConvolver(kernels.Convolver(isa))
	}
	for i, p := range g.Params {
		m.params = append(m.params, &nn.Param{
			Name:  p.Name,
			Value: &nn.Tensor{Shape: p.Shape, Data: net.params[i]},
			Grad:  &nn.Tensor{Shape: p.Shape, Data: net.grads[i]},
			Decay: p.Decay,
			Norm:  p.Node.Op == compiler.Norm,
		})
	}
	for _, nd := range g.NormLayers() {
		for br := range nn.Branch(nd.Norm.StatSets()) {
			mean, variance := net.Running(nd, br)
			m.stats = append(m.stats, &nn.NormStats{Name: compiler.BranchName(nd.Name, int(br)), Mean: mean, Var: variance, Momentum: Momentum})
			m.bns = append(m.bns, normBranch{nd, br})
		}
	}
	return m, nil
}

// ArenaBytesPerImage is the activation and gradient memory of the kernel
// path per image: its programs' arena, as in the compiled model of the
// same spec. The reference path (no arena) keeps every node's output and
// gradient: twice their sizes.
func (m *Model) ArenaBytesPerImage() int64 {
	if m.fast != nil {
		return 4 * int64(m.fast.arenaSize())
	}
	var floats int64
	for _, nd := range m.net.g.Nodes {
		floats += 2 * int64(nd.Size())
	}
	return 4 * floats
}

// Net is the underlying network.
func (m *Model) Net() *Net[float32] { return m.net }

// Spec is the spec the model was lowered from.
func (m *Model) Spec() *spec.Spec { return m.net.g.Spec }

// Forward runs a batch; see nn.Model.
func (m *Model) Forward(x *nn.Tensor, mode nn.Mode) *nn.Tensor {
	in := m.net.g.Nodes[0]
	if len(x.Shape) != 4 || x.Shape[1] != in.C || x.Shape[2] != in.H || x.Shape[3] != in.W {
		panic(fmt.Sprintf("interp: input shape %v, want [N %d %d %d]", x.Shape, in.C, in.H, in.W))
	}
	n := x.Shape[0]
	if m.fast != nil {
		m.logits.Data = m.fast.Forward(x.Data, n, mode)
	} else {
		m.logits.Data = m.net.Forward(x.Data, n, mode)
	}
	m.logits.Shape = []int{n, m.net.g.Output().C}
	return &m.logits
}

// Backward propagates dlogits; see nn.Model.
func (m *Model) Backward(dlogits *nn.Tensor, want nn.Grads) {
	if m.fast != nil {
		m.fast.Backward(dlogits.Data, want)
		m.dx.Data = m.fast.dx
	} else {
		m.net.Backward(dlogits.Data, want)
		m.dx.Data = m.net.InputGrad()
	}
	in := m.net.g.Nodes[0]
	m.dx.Shape = []int{m.net.n, in.C, in.H, in.W}
}

// InputGrad is the input gradient of the last Backward.
func (m *Model) InputGrad() *nn.Tensor { return &m.dx }

// Params lists the trainable parameters in graph order.
func (m *Model) Params() []*nn.Param { return m.params }

// NormState lists the running statistics of every BN (clean then
// adversarial branch for MBN).
func (m *Model) NormState() []*nn.NormStats { return m.stats }

// BatchStats lists the batch statistics of the last Forward, with
// NormState's names and order; see nn.BatchStatser.
func (m *Model) BatchStats() []*nn.NormStats {
	out := make([]*nn.NormStats, len(m.stats))
	for i, st := range m.stats {
		b := &nn.NormStats{Name: st.Name, Momentum: st.Momentum}
		if m.usedBatchStats(m.bns[i]) {
			var mean, variance []float32
			if m.fast != nil {
				mean, variance = m.fast.norms[m.bns[i].nd.ID].BatchStats(m.bns[i].br)
			} else {
				mean, variance = m.net.BatchStats(m.bns[i].nd, m.bns[i].br)
			}
			b.Mean, b.Var = slices.Clone(mean), slices.Clone(variance)
		}
		out[i] = b
	}
	return out
}

// usedBatchStats reports whether the last Forward normalized some images
// with batch statistics through b.
func (m *Model) usedBatchStats(b normBranch) bool {
	if m.net.n == 0 || m.net.mode.Norm != nn.BatchStats {
		return false
	}
	for _, p := range m.net.parts(b.nd) {
		if p.branch == b.br && p.hi > p.lo {
			return true
		}
	}
	return false
}
