package ref

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropy returns the mean over the n rows of logits (n×k) of
// the cross-entropy between softmax(logits) and the label distribution
// smoothed as (1-smoothing)·onehot(label) + smoothing/k (PyTorch's
// label_smoothing). If dlogits is not nil, it is overwritten with the
// gradient of that mean with respect to logits. It subtracts each row's
// maximum for numerical stability and computes in float64.
func SoftmaxCrossEntropy[T Float](n, k int, logits []T, labels []int, smoothing T, dlogits []T) T {
	checkDims("SoftmaxCrossEntropy", n, k)
	checkLen("SoftmaxCrossEntropy", "logits", logits, n*k)
	checkLen("SoftmaxCrossEntropy", "labels", labels, n)
	checkOpt("SoftmaxCrossEntropy", "dlogits", dlogits, n*k)
	s := float64(smoothing)
	var total float64
	for i, label := range labels {
		if label < 0 || label >= k {
			panic(fmt.Sprintf("ref.SoftmaxCrossEntropy: labels[%d] = %d, want 0 ≤ label < %d", i, label, k))
		}
		row := logits[i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		var sum, sumLogits float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
			sumLogits += float64(v)
		}
		lse := mx + math.Log(sum)
		// -Σ_j q_j·(l_j - lse) with Σ_j q_j = 1.
		total += lse - (1-s)*float64(row[label]) - s/float64(k)*sumLogits
		if dlogits == nil {
			continue
		}
		d := dlogits[i*k : (i+1)*k]
		for j, v := range row {
			g := math.Exp(float64(v)-lse) - s/float64(k)
			if j == label {
				g -= 1 - s
			}
			d[j] = T(g / float64(n))
		}
	}
	return T(total / float64(n))
}
