package generated_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/netc/netc/runtime/nn"
)

// predictor is what every compiled model adds to nn.Model.
type predictor interface {
	nn.Model
	Predict(img []float32) (int, []float32)
	PredictBatch(imgs [][]float32) ([]int, [][]float32)
}

// randomize gives the norm layers random affine parameters (the
// zero-initialized gammas too, so that every block takes part) and
// running statistics; the weights keep their initial draw.
func randomize(m nn.Model, rng *rand.Rand) {
	for _, p := range m.Params() {
		if p.Norm {
			for j := range p.Value.Data {
				p.Value.Data[j] = float32(rng.NormFloat64() * 0.2)
			}
		}
	}
	for _, s := range m.NormState() {
		for j := range s.Mean {
			s.Mean[j], s.Var[j] = float32(rng.NormFloat64()*0.1), float32(0.5+rng.Float64())
		}
	}
}

// TestPredict checks every compiled model's Predict and PredictBatch:
// they run on replicas of the model, which must compute bitwise what
// the model's own Forward computes in inference mode, one image at a
// time or batched, and from several goroutines at once.
func TestPredict(t *testing.T) {
	for _, c := range compiled {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.batch < 4 {
				t.Skip("deep model; -short")
			}
			if slices.Contains([]string{"reduced/resnet152", "reduced/resnet338", "reduced/resnet638"}, c.name) {
				t.Skip("the layers of reduced/resnet50, more of them")
			}
			rm, err := c.new(3)
			if err != nil {
				t.Fatal(err)
			}
			m := rm.(predictor)
			rng := rand.New(rand.NewPCG(5, 6))
			randomize(m, rng)
			in := m.Spec().Input
			size := in[0] * in[1] * in[2]
			n := c.batch
			x := nn.NewTensor(n, in[0], in[1], in[2])
			for i := range x.Data {
				x.Data[i] = rng.Float32()
			}
			imgs := make([][]float32, n)
			for i := range imgs {
				imgs[i] = x.Data[i*size : (i+1)*size]
			}
			logits := m.Forward(x, nn.Mode{Norm: nn.RunningStats, Branch: nn.Adv, InputOnly: true}).Data
			k := m.Spec().Classes
			classes, probs := m.PredictBatch(imgs)
			for i := range imgs {
				wc, wp := nn.Softmax(logits[i*k : (i+1)*k])
				if !finite(wp) {
					t.Fatalf("image %d: p = %v", i, wp)
				}
				if classes[i] != wc || !slices.Equal(probs[i], wp) {
					t.Fatalf("image %d: PredictBatch gives class %d, p = %v; Forward class %d, p = %v", i, classes[i], probs[i], wc, wp)
				}
			}
			// Each goroutine classifies every image, one at a time.
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for g := range errs {
				wg.Go(func() {
					for j := range imgs {
						i := (j + g) % n
						if c, p := m.Predict(imgs[i]); c != classes[i] || !slices.Equal(p, probs[i]) {
							errs[g] = fmt.Errorf("goroutine %d, image %d: Predict gives class %d, p = %v; PredictBatch class %d, p = %v", g, i, c, p, classes[i], probs[i])
							return
						}
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestPredictPanicsOnWrongSize: an image of another size is refused,
// naming its index.
func TestPredictPanicsOnWrongSize(t *testing.T) {
	rm, err := compiled[0].new(1)
	if err != nil {
		t.Fatal(err)
	}
	m := rm.(predictor)
	in := m.Spec().Input
	defer func() {
		want := fmt.Sprintf("image 1 of 2 has 3 values, want %d×%d×%d", in[0], in[1], in[2])
		if r := recover(); r != want {
			t.Errorf("panic %v, want %q", r, want)
		}
	}()
	m.PredictBatch([][]float32{make([]float32, in[0]*in[1]*in[2]), make([]float32, 3)})
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
