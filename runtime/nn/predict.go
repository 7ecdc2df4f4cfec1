package nn

import "fmt"

// PredictMode is inference as prediction runs it: running statistics,
// the adversarial branch of MBN, input gradient only (so a compiled
// model folds BN into its convolutions).
var PredictMode = Mode{Norm: RunningStats, Branch: Adv, InputOnly: true}

// PredictBatch classifies images, each C×H×W pixels in [0,1] of m's
// input, channel-major, with m in PredictMode, in forward passes of at
// most per images whose input it builds in *buf (grown as needed), and
// returns their classes and softmax probabilities in order. An image's
// answer does not depend on the others in its pass. It panics if an
// image has another length. It runs m.Forward: one m serves one call at
// a time.
func PredictBatch(m Model, imgs [][]float32, per int, buf *[]float32) (classes []int, probs [][]float32) {
	in, k := m.Spec().Input, m.Spec().Classes
	size := in[0] * in[1] * in[2]
	for i, img := range imgs {
		if len(img) != size {
			panic(fmt.Sprintf("image %d of %d has %d values, want %d×%d×%d", i, len(imgs), len(img), in[0], in[1], in[2]))
		}
	}
	classes, probs = make([]int, len(imgs)), make([][]float32, len(imgs))
	for lo := 0; lo < len(imgs); lo += per {
		part := imgs[lo:min(lo+per, len(imgs))]
		if cap(*buf) < len(part)*size {
			*buf = make([]float32, len(part)*size)
		}
		x := &Tensor{Shape: []int{len(part), in[0], in[1], in[2]}, Data: (*buf)[:len(part)*size]}
		for i, img := range part {
			copy(x.Data[i*size:], img)
		}
		logits := m.Forward(x, PredictMode).Data
		for i := range part {
			classes[lo+i], probs[lo+i] = Softmax(logits[i*k : (i+1)*k])
		}
	}
	return classes, probs
}
