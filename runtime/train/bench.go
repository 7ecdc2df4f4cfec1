package train

import (
	"math/rand/v2"
	"time"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/ref"
)

// Throughput is what Bench measured: images per second of each workload
// on synthetic input.
type Throughput struct {
	Model   string `json:"model"`
	Batch   int    `json:"batch"`
	Threads int    `json:"threads"`
	ISA     string `json:"isa"`
	// Inference is a forward pass with running statistics; TrainStep a
	// training forward, softmax cross-entropy, full backward and SGD
	// update; AttackStep one PGD step (forward and input gradient);
	// AdvTrainStep ten attack steps and a training step.
	Inference    float64 `json:"inference"`
	TrainStep    float64 `json:"train_step"`
	AttackStep   float64 `json:"attack_step"`
	AdvTrainStep float64 `json:"adv_train_step_pgd10"`
}

// Bench times m's workloads (see Throughput) on batches of batch
// synthetic images: each once to warm up, then repeatedly for at least
// minTime and at least twice. It calls done, if not nil, after each
// workload with its name (the JSON field's), images per second and timed
// iterations. It trains m's weights: bench a model of no value. The
// result's Threads and ISA are the caller's to fill.
func Bench(m nn.Model, batch int, minTime time.Duration, done func(workload string, perSecond float64, iterations int)) Throughput {
	s := m.Spec()
	r := Throughput{Model: s.Model, Batch: batch}
	d := data.Synthetic(batch, s.Input[0], s.Input[1], s.Input[2], s.Classes, 1)
	x := nn.NewTensor(batch, s.Input[0], s.Input[1], s.Input[2])
	y := make([]int, batch)
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	d.Batch(idx, x.Data, y)
	k := s.Classes
	dl := nn.NewTensor(batch, k)
	opt := NewSGD(m.Params(), 0.9, 5e-4, true)
	trainStep := func(x *nn.Tensor) {
		logits := m.Forward(x, nn.Mode{Norm: nn.BatchStats, UpdateStats: true, Split: batch})
		ref.SoftmaxCrossEntropy(batch, k, logits.Data, y, 0, dl.Data)
		m.Backward(dl, nn.AllGrads)
		opt.Step(m.Params(), 0.05, func(*nn.Param) bool { return true })
	}
	c := pgd.Config{Eps: 8.0 / 255, Step: 2.0 / 255, Steps: 10, Loss: pgd.Untargeted, Norm: nn.RunningStats}
	a := pgd.New(c, rand.New(rand.NewPCG(1, 2)))
	xa := a.Start(x)
	work := []struct {
		name string
		dst  *float64
		run  func()
	}{
		{"inference", &r.Inference, func() { m.Forward(x, nn.Mode{Norm: nn.RunningStats, InputOnly: true}) }},
		{"train_step", &r.TrainStep, func() { trainStep(x) }},
		{"attack_step", &r.AttackStep, func() { a.Step(m, xa, y, c.EffectiveStep()) }},
		{"adv_train_step_pgd10", &r.AdvTrainStep, func() {
			adv, _ := a.Attack(m, x, y, k)
			trainStep(adv)
		}},
	}
	for _, w := range work {
		w.run() // warm-up
		start, iters := time.Now(), 0
		for iters < 2 || time.Since(start) < minTime {
			w.run()
			iters++
		}
		*w.dst = float64(iters*batch) / time.Since(start).Seconds()
		if done != nil {
			done(w.name, *w.dst, iters)
		}
	}
	return r
}
