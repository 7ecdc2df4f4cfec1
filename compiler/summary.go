package compiler

import "math"

// Summary is what `netc check` reports about a graph. A count too large
// for an int64 is math.MaxInt64: the counts saturate, they never wrap.
type Summary struct {
	Model  string `json:"model"`
	Nodes  int    `json:"nodes"`
	Convs  int    `json:"convs"`
	Norms  int    `json:"norms"`
	Params int64  `json:"params"`
	// MACs is the multiply-adds of one image's forward pass (convs and the
	// linear layer).
	MACs  int64 `json:"macs"`
	Batch int   `json:"batch"`
	// ActivationBytes is the float32 node outputs of one batch.
	ActivationBytes int64 `json:"activation_bytes"`
	// BackwardBytes is the node outputs of one batch that a backward pass
	// needs, kept from the forward pass: the inputs of every conv and
	// linear layer (for their weight gradients) and of every norm layer.
	BackwardBytes int64 `json:"backward_bytes"`
	// TrainBytes is the memory of a training step on the batch as the
	// interpreter runs it: every parameter with its gradient and momentum
	// (3 float32), every node's output and its gradient (2 float32 per
	// value and image).
	TrainBytes int64 `json:"train_bytes"`
	// MinTrainBytes is the least memory a training step on the batch
	// needs: the parameters with their gradients and momentum, and
	// BackwardBytes. A compiled model, whose arena lays out every buffer
	// of the step with buffers that are not live at once sharing memory,
	// needs a little more (1% to 8% more arena for the specs in specs/).
	MinTrainBytes int64 `json:"min_train_bytes"`
}

// Summarize counts parameters, multiply-adds and memory for a batch size
// (a negative one counts as 0).
func (g *Graph) Summarize(batch int) Summary {
	s := Summary{Model: g.Spec.Model, Nodes: len(g.Nodes), Batch: batch}
	for _, p := range g.Params {
		n := int64(1)
		for _, d := range p.Shape {
			n = satMul(n, int64(d))
		}
		s.Params = satAdd(s.Params, n)
	}
	size := func(n *Node) int64 { return satMul(satMul(int64(n.C), int64(n.H)), int64(n.W)) }
	var act, saved int64
	kept := map[*Node]bool{}
	for _, n := range g.Nodes {
		act = satAdd(act, size(n))
		if n.Op == Conv || n.Op == Linear || n.Op == Norm {
			if in := n.In[0]; !kept[in] {
				kept[in] = true
				saved = satAdd(saved, size(in))
			}
		}
		switch n.Op {
		case Conv:
			s.Convs++
			in := n.In[0]
			k := satMul(int64(n.Kernel), int64(n.Kernel))
			s.MACs = satAdd(s.MACs, satMul(satMul(int64(n.C), int64(in.C)), satMul(k, satMul(int64(n.H), int64(n.W)))))
		case Linear:
			s.MACs = satAdd(s.MACs, satMul(int64(n.C), int64(n.In[0].C)))
		case Norm:
			s.Norms++
		}
	}
	images := int64(max(batch, 0))
	s.ActivationBytes = satMul(satMul(4, act), images)
	s.BackwardBytes = satMul(satMul(4, saved), images)
	s.TrainBytes = satAdd(satMul(3*4, s.Params), satMul(2, s.ActivationBytes))
	s.MinTrainBytes = satAdd(satMul(3*4, s.Params), s.BackwardBytes)
	return s
}

// satAdd is a+b for non-negative a and b, or math.MaxInt64 if that is
// larger.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satMul is a*b for non-negative a and b, or math.MaxInt64 if that is
// larger.
func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
