package compiler

// Summary is what `netc check` reports about a graph.
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
	// TrainBytes estimates a training step's memory: parameters with their
	// gradients and momentum, activations and their gradients.
	TrainBytes int64 `json:"train_bytes"`
}

// Summarize counts parameters, multiply-adds and memory for a batch size.
func (g *Graph) Summarize(batch int) Summary {
	s := Summary{Model: g.Spec.Model, Nodes: len(g.Nodes), Batch: batch}
	for _, p := range g.Params {
		s.Params += int64(p.Size())
	}
	var act int64
	for _, n := range g.Nodes {
		act += int64(n.Size())
		switch n.Op {
		case Conv:
			s.Convs++
			in := n.In[0]
			s.MACs += int64(n.C) * int64(in.C) * int64(n.Kernel*n.Kernel) * int64(n.H*n.W)
		case Linear:
			s.MACs += int64(n.C) * int64(n.In[0].C)
		case Norm:
			s.Norms++
		}
	}
	s.ActivationBytes = 4 * act * int64(batch)
	s.TrainBytes = 3*4*s.Params + 2*s.ActivationBytes
	return s
}
