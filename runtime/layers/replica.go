package layers

// Replicas let several passes run at once on one set of parameters: a
// replica computes what its layer computes, reading the layer's
// parameters and running statistics (shared, not copied), with buffers
// of its own for what a pass writes (packed and BN-folded weights, batch
// statistics, scratch). It has no gradients: it is for forward passes
// (inference, and the input gradient of an attack), and while passes on
// it run nothing may change the shared parameters.

// Replica returns the input layer with a buffer of its own.
func (in *Input) Replica() Input { return Input{C: in.C, HW: in.HW, Scale: in.Scale, Shift: in.Shift} }

// Replica returns the convolution sharing c's weights and kernels.
func (c *Conv) Replica() Conv {
	return Conv{C: c.C, H: c.H, W: c.W, K: c.K, R: c.R, Stride: c.Stride, Pad: c.Pad, Weight: c.Weight, Special: c.Special}
}

// Replica returns the norm layer sharing b's affine parameters and
// running statistics.
func (b *Norm) Replica() Norm {
	return Norm{Kind: b.Kind, Share: b.Share, C: b.C, HW: b.HW, Groups: b.Groups, Weight: b.Weight, Bias: b.Bias, RunMean: b.RunMean, RunVar: b.RunVar}
}

// Replica returns the pooling layer with a buffer of its own.
func (m *MaxPool) Replica() MaxPool {
	return MaxPool{C: m.C, H: m.H, W: m.W, K: m.K, Stride: m.Stride, Pad: m.Pad}
}

// Replica returns the classifier sharing l's weight and bias.
func (l *Linear) Replica() Linear {
	return Linear{In: l.In, Out: l.Out, Weight: l.Weight, Bias: l.Bias}
}
