package train

import "github.com/netc/netc/runtime/nn"

// SGD is stochastic gradient descent with (Nesterov) momentum and weight
// decay on the parameters that ask for it, as PyTorch's torch.optim.SGD.
type SGD struct {
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
	// Velocity holds one momentum buffer per parameter, in Params order.
	Velocity [][]float32
}

// NewSGD returns an optimizer with zero momentum buffers for params.
func NewSGD(params []*nn.Param, momentum, weightDecay float32, nesterov bool) *SGD {
	o := &SGD{Momentum: momentum, Nesterov: nesterov, WeightDecay: weightDecay}
	for _, p := range params {
		o.Velocity = append(o.Velocity, make([]float32, p.Value.Len()))
	}
	return o
}

// Step updates params with learning rate lr from their gradients. Only
// parameters accepted by train (nil: all) move.
func (o *SGD) Step(params []*nn.Param, lr float32, train func(*nn.Param) bool) {
	mu := o.Momentum
	for i, p := range params {
		if train != nil && !train(p) {
			continue
		}
		w, g, v := p.Value.Data, p.Grad.Data, o.Velocity[i]
		wd := float32(0)
		if p.Decay {
			wd = o.WeightDecay
		}
		for j := range w {
			gj := g[j] + wd*w[j]
			v[j] = mu*v[j] + gj
			if o.Nesterov {
				gj += mu * v[j]
			} else {
				gj = v[j]
			}
			w[j] -= lr * gj
		}
	}
}

// Schedule is a learning rate with linear warmup and step decay, as a
// function of fractional epochs.
type Schedule struct {
	Peak   float64   // after warmup
	Warmup float64   // epochs of linear warmup from 0
	Decay  []float64 // epochs at which the rate is multiplied by Factor
	Factor float64
}

// At is the learning rate at fractional epoch e.
func (s Schedule) At(e float64) float64 {
	lr := s.Peak
	if s.Warmup > 0 && e < s.Warmup {
		return lr * e / s.Warmup
	}
	for _, d := range s.Decay {
		if e >= d {
			lr *= s.Factor
		}
	}
	return lr
}
