package nn

import (
	"fmt"
	"math"
)

// FirstNonFinite is the index of the first NaN or ±Inf in v, or -1 if
// every value is finite.
func FirstNonFinite(v []float32) int {
	for i, x := range v {
		if !finite(x) {
			return i
		}
	}
	return -1
}

func finite(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

// NonFiniteError says which tensor of a model first holds a NaN or an
// infinity.
type NonFiniteError struct {
	Tensor string  // e.g. "layer1.0.conv1.weight" or "layer1.0.bn1.running_var"
	Index  int     // of the first non-finite value
	Value  float32 // that value
	Count  int     // non-finite values in the tensor
	Len    int     // values in the tensor
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("tensor %s is not finite: value %d is %v (%d of its %d values are NaN or infinite)",
		e.Tensor, e.Index, e.Value, e.Count, e.Len)
}

// CheckTensor returns a *NonFiniteError if v, the values of the tensor
// called name, holds a NaN or an infinity, or nil if it does not.
func CheckTensor(name string, v []float32) error {
	i := FirstNonFinite(v)
	if i < 0 {
		return nil
	}
	n := 0
	for _, x := range v[i:] {
		if !finite(x) {
			n++
		}
	}
	return &NonFiniteError{Tensor: name, Index: i, Value: v[i], Count: n, Len: len(v)}
}

// CheckFinite returns a *NonFiniteError naming the first parameter or
// running statistic of m (in Params, then NormState order) that holds a
// NaN or an infinity, or nil if every one is finite.
func CheckFinite(m Model) error {
	for _, p := range m.Params() {
		if err := CheckTensor(p.Name, p.Value.Data); err != nil {
			return err
		}
	}
	for _, s := range m.NormState() {
		if err := CheckTensor(s.Name+".running_mean", s.Mean); err != nil {
			return err
		}
		if err := CheckTensor(s.Name+".running_var", s.Var); err != nil {
			return err
		}
	}
	return nil
}
