package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveCrossEntropy computes the smoothed cross-entropy from its
// definition, without any care for overflow.
func naiveCrossEntropy(n, k int, logits []float64, labels []int, smoothing float64) float64 {
	var total float64
	for i := range n {
		row := logits[i*k : (i+1)*k]
		var z float64
		for _, v := range row {
			z += math.Exp(v)
		}
		for j, v := range row {
			q := smoothing / float64(k)
			if j == labels[i] {
				q += 1 - smoothing
			}
			total -= q * math.Log(math.Exp(v)/z)
		}
	}
	return total / float64(n)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	tests := []struct {
		n, k      int
		smoothing float64
		scale     float64
	}{
		{1, 1, 0, 1},
		{1, 2, 0, 1},
		{3, 10, 0, 3},
		{3, 10, 0.1, 3},
		{5, 7, 0.5, 10},
		{2, 1000, 0.1, 5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n%d_k%d_s%v", tt.n, tt.k, tt.smoothing), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.k)))
			logits := randSlice(rng, tt.n*tt.k)
			for i := range logits {
				logits[i] *= tt.scale
			}
			labels := make([]int, tt.n)
			for i := range labels {
				labels[i] = rng.IntN(tt.k)
			}
			d := make([]float64, len(logits))
			got := SoftmaxCrossEntropy(tt.n, tt.k, logits, labels, tt.smoothing, d)
			if want := naiveCrossEntropy(tt.n, tt.k, logits, labels, tt.smoothing); relDiff(got, want) > 1e-12 {
				t.Errorf("loss = %v, want %v", got, want)
			}
			if got2 := SoftmaxCrossEntropy(tt.n, tt.k, logits, labels, tt.smoothing, nil); got2 != got {
				t.Errorf("loss without gradient = %v, want %v", got2, got)
			}
			checkGrad(t, "dlogits", logits, d, func() float64 {
				return SoftmaxCrossEntropy(tt.n, tt.k, logits, labels, tt.smoothing, nil)
			})

			// Shifting a row changes nothing, even far beyond exp's range.
			shifted := append([]float64(nil), logits...)
			for i := range shifted {
				shifted[i] += 1000
			}
			d2 := make([]float64, len(logits))
			if got2 := SoftmaxCrossEntropy(tt.n, tt.k, shifted, labels, tt.smoothing, d2); relDiff(got2, got) > 1e-10 {
				t.Errorf("shifted loss = %v, want %v", got2, got)
			}
			if diff := maxRelDiff(d2, d); diff > 1e-10 {
				t.Errorf("shifted gradient differs by %g", diff)
			}

			d32 := make([]float32, len(logits))
			got32 := SoftmaxCrossEntropy(tt.n, tt.k, toFloat32(logits), labels, float32(tt.smoothing), d32)
			if relDiff(float64(got32), got) > 1e-5 {
				t.Errorf("float32 loss = %v, want %v", got32, got)
			}
			if diff := maxRelDiff(toFloat64(d32), d); diff > 1e-6 {
				t.Errorf("float32 gradient differs by %g", diff)
			}
		})
	}
}

func TestSoftmaxCrossEntropyPanics(t *testing.T) {
	logits := make([]float32, 6)
	expectPanic(t, "label out of range", func() { SoftmaxCrossEntropy(2, 3, logits, []int{0, 3}, 0, nil) })
	expectPanic(t, "short labels", func() { SoftmaxCrossEntropy(2, 3, logits, []int{0}, 0, nil) })
	expectPanic(t, "short dlogits", func() { SoftmaxCrossEntropy(2, 3, logits, []int{0, 1}, 0, logits[1:]) })
}
