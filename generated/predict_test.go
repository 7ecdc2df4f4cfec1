package generated_test

import (
	"fmt"
	"testing"

	"github.com/netc/netc/generated/internal/modelcheck"
)

// TestPredict checks every committed model's Predict and PredictBatch
// (modelcheck.Predict).
func TestPredict(t *testing.T) {
	for _, c := range compiled {
		t.Run(c.name, func(t *testing.T) { modelcheck.Predict(t, c.new, c.batch) })
	}
}

// TestPredictPanicsOnWrongSize: an image of another size is refused,
// naming its index.
func TestPredictPanicsOnWrongSize(t *testing.T) {
	rm, err := compiled[0].new(1)
	if err != nil {
		t.Fatal(err)
	}
	m := rm.(modelcheck.Predictor)
	in := m.Spec().Input
	defer func() {
		want := fmt.Sprintf("image 1 of 2 has 3 values, want %d×%d×%d", in[0], in[1], in[2])
		if r := recover(); r != want {
			t.Errorf("panic %v, want %q", r, want)
		}
	}()
	m.PredictBatch([][]float32{make([]float32, in[0]*in[1]*in[2]), make([]float32, 3)})
}
