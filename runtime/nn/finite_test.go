package nn

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/netc/netc/spec"
)

// weights is a Model that only holds tensors.
type weights struct {
	params []*Param
	stats  []*NormStats
}

func (m *weights) Spec() *spec.Spec              { return &spec.Spec{Model: "weights"} }
func (m *weights) Forward(*Tensor, Mode) *Tensor { return nil }
func (m *weights) Backward(*Tensor, Grads)       {}
func (m *weights) InputGrad() *Tensor            { return nil }
func (m *weights) Params() []*Param              { return m.params }
func (m *weights) NormState() []*NormStats       { return m.stats }

func TestCheckFinite(t *testing.T) {
	inf, nan := float32(math.Inf(-1)), float32(math.NaN())
	m := &weights{
		params: []*Param{{Name: "conv1.weight", Value: &Tensor{Data: []float32{1, 2, 3}}}},
		stats:  []*NormStats{{Name: "bn1", Mean: []float32{0, 0}, Var: []float32{1, 1}}},
	}
	if err := CheckFinite(m); err != nil {
		t.Errorf("finite weights: %v", err)
	}
	m.stats[0].Var[1] = inf
	var nf *NonFiniteError
	if err := CheckFinite(m); !errors.As(err, &nf) || nf.Tensor != "bn1.running_var" || nf.Index != 1 || nf.Count != 1 || nf.Len != 2 {
		t.Errorf("an infinite running variance: %v", err)
	}
	m.params[0].Value.Data[1], m.params[0].Value.Data[2] = nan, inf
	err := CheckFinite(m)
	if !errors.As(err, &nf) || nf.Tensor != "conv1.weight" || nf.Index != 1 || nf.Count != 2 ||
		!strings.Contains(err.Error(), "tensor conv1.weight is not finite: value 1 is NaN (2 of its 3 values are NaN or infinite)") {
		t.Errorf("NaN and Inf in the first parameter: %v", err)
	}
	if i := FirstNonFinite([]float32{0, 1e38, -3}); i != -1 {
		t.Errorf("FirstNonFinite of finite values: %d", i)
	}
}
