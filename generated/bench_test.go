package generated_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/netc/netc/generated/internal/modelcheck"
	"github.com/netc/netc/generated/resnet20cifar"
	"github.com/netc/netc/generated/resnet50"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/ref"
)

// BenchmarkStep times, for ResNet-20 (CIFAR, batch 128) and ResNet-50
// (224×224, batch 4), compiled and on the interpreter: an attack step
// as PGD takes it after its first (forward with BN folded into weights
// folded once, input gradient only) and a training step's model work
// (forward with batch statistics, full backward). It reports
// images/s; compare attack and train as a ratio from one run:
//
//	go test -run '^$' -bench Step -benchtime 5x ./generated/
func BenchmarkStep(b *testing.B) {
	nets := []struct {
		name  string
		new   modelcheck.New
		batch int
	}{
		{"resnet20", modelcheck.Wrap(resnet20cifar.New), 128},
		{"resnet50", modelcheck.Wrap(resnet50.New), 4},
	}
	for _, net := range nets {
		for _, impl := range []string{"compiled", "interp"} {
			for _, step := range []string{"attack", "train"} {
				b.Run(fmt.Sprintf("%s/%s/%s", net.name, impl, step), func(b *testing.B) {
					m, err := net.new(1)
					if err != nil {
						b.Fatal(err)
					}
					if impl == "interp" {
						if m, err = interp.NewModel(m.Spec(), 1); err != nil {
							b.Fatal(err)
						}
					}
					s := m.Spec()
					n, k := net.batch, s.Classes
					x := nn.NewTensor(n, s.Input[0], s.Input[1], s.Input[2])
					rng := rand.New(rand.NewPCG(1, 2))
					for i := range x.Data {
						x.Data[i] = rng.Float32()
					}
					y := make([]int, n)
					dl := nn.NewTensor(n, k)
					mode, want := nn.Mode{Norm: nn.RunningStats, InputOnly: true, SameWeights: true}, nn.InputOnly
					if step == "train" {
						mode, want = nn.Mode{Norm: nn.BatchStats, UpdateStats: true}, nn.AllGrads
					}
					run := func() {
						logits := m.Forward(x, mode)
						ref.SoftmaxCrossEntropy(n, k, logits.Data, y, 0, dl.Data)
						m.Backward(dl, want)
					}
					run()
					b.ResetTimer()
					for range b.N {
						run()
					}
					b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
				})
			}
		}
	}
}
