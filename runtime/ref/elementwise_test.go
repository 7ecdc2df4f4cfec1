package ref

import (
	"math/rand/v2"
	"testing"
)

// awayFromZero returns n values with 0.01 ≤ |v| < 1, so that finite
// differences never cross the ReLU's kink.
func awayFromZero(rng *rand.Rand, n int) []float64 {
	s := positive(rng, n, 0.01, 1)
	for i := range s {
		if rng.IntN(2) == 0 {
			s[i] = -s[i]
		}
	}
	return s
}

func TestReLU(t *testing.T) {
	for _, n := range []int{1, 2, 37} {
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		x, r := awayFromZero(rng, n), randSlice(rng, n)
		y := make([]float64, n)
		ReLU(x, y)
		for i, v := range x {
			if want := max(v, 0); y[i] != want {
				t.Fatalf("n=%d: y[%d] = %v, want %v", n, i, y[i], want)
			}
		}
		loss := func() float64 {
			ReLU(x, y)
			return dot(y, r)
		}
		dx := make([]float64, n)
		ReLUBackward(y, r, dx)
		checkGrad(t, "dx", x, dx, loss)

		// In place.
		dy := append([]float64(nil), r...)
		ReLUBackward(y, dy, dy)
		if maxRelDiff(dy, dx) != 0 {
			t.Errorf("n=%d: ReLUBackward in place differs", n)
		}
		ReLU(x, y)
		ReLU(x, x)
		if maxRelDiff(x, y) != 0 {
			t.Errorf("n=%d: ReLU in place differs", n)
		}
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		a, b, want []float64
	}{
		{nil, nil, nil},
		{[]float64{1}, []float64{2}, []float64{3}},
		{[]float64{1, -2, 0.5}, []float64{-1, 4, 0.25}, []float64{0, 2, 0.75}},
	}
	for _, tt := range tests {
		y := make([]float64, len(tt.a))
		Add(tt.a, tt.b, y)
		if maxRelDiff(y, tt.want) != 0 {
			t.Errorf("Add(%v, %v) = %v, want %v", tt.a, tt.b, y, tt.want)
		}
		a := append([]float64(nil), tt.a...)
		Add(a, tt.b, a)
		if maxRelDiff(a, tt.want) != 0 {
			t.Errorf("Add(%v, %v) in place = %v, want %v", tt.a, tt.b, a, tt.want)
		}
	}
}

func TestElementwisePanics(t *testing.T) {
	x := make([]float32, 4)
	expectPanic(t, "ReLU", func() { ReLU(x, x[1:]) })
	expectPanic(t, "ReLUBackward", func() { ReLUBackward(x, x[1:], x) })
	expectPanic(t, "Add", func() { Add(x, x, x[1:]) })
}

func TestChannelAffine(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8} // n=2, c=2, hw=2
	y := make([]float64, 8)
	ChannelAffine(2, 2, 2, x, []float64{2, -1}, []float64{0.5, 1}, y)
	want := []float64{2.5, 4.5, -2, -3, 10.5, 12.5, -6, -7}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("y = %v, want %v", y, want)
		}
	}
	ChannelAffine(2, 2, 2, x, []float64{2, -1}, nil, x)
	if x[0] != 2 || x[2] != -3 {
		t.Errorf("in place without shift: %v", x)
	}
}
