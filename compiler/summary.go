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
	// ActivationBytes is the float32 node outputs of one batch, which a
	// training step keeps for its backward pass.
	ActivationBytes int64 `json:"activation_bytes"`
	// TrainBytes is the memory of a training step on the batch: every
	// parameter with its gradient and momentum (3 float32), every node's
	// output and its gradient (2 float32 per value and image). That is what
	// the interpreter holds; a compiled model, whose arena reuses buffers
	// whose lives do not overlap, needs less.
	TrainBytes int64 `json:"train_bytes"`
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
	var act int64
	for _, n := range g.Nodes {
		size := satMul(satMul(int64(n.C), int64(n.H)), int64(n.W))
		act = satAdd(act, size)
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
	s.ActivationBytes = satMul(satMul(4, act), int64(max(batch, 0)))
	s.TrainBytes = satAdd(satMul(3*4, s.Params), satMul(2, s.ActivationBytes))
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
