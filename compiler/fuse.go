package compiler

// Fusion is how the kernel path merges nodes: a ReLU that is a norm
// layer's only consumer is computed by the norm layer; and, on the
// attack path (frozen statistics, input gradient only), a norm whose
// descriptor says it is foldable (BN, MBN: spec.NormInfo.Foldable) and
// that is a conv's only consumer folds into the conv, together with the
// ReLU or the residual add and ReLU after it.
//
// In a pre-activation network that folds the norm in the middle of each
// block (conv1, bn2, relu2 become one conv) and the first block's bn1
// into the stem's conv. A norm on a block's input, which is a residual
// sum that the next block's shortcut also reads, has no conv before it
// to fold into: it stays a frozen norm with its ReLU, one pass. (Folding
// it into the conv after it would need the ReLU between them to commute
// with the affine map, which it does not.)
type Fusion struct {
	ReLUOf []*Node       // by norm node ID: the ReLU it computes, or nil
	Fused  []bool        // by ReLU node ID: computed by its norm layer
	Folds  map[int]*Fold // by conv node ID
	Folded []bool        // by node ID: computed by a folded conv
}

// Fold is a conv whose BN folds into it: the conv writes Out's output,
// adding Res's output (if not nil) and clamping at zero if ReLU.
type Fold struct {
	Norm, Out, Res *Node
	ReLU           bool
}

// Fuse finds the fusions of g.
func Fuse(g *Graph) *Fusion {
	n := len(g.Nodes)
	f := &Fusion{ReLUOf: make([]*Node, n), Fused: make([]bool, n), Folds: map[int]*Fold{}, Folded: make([]bool, n)}
	users := make([][]*Node, n)
	for _, nd := range g.Nodes {
		for _, in := range nd.In {
			users[in.ID] = append(users[in.ID], nd)
		}
	}
	only := func(nd *Node) *Node { // nd's one consumer, or nil
		if len(users[nd.ID]) == 1 {
			return users[nd.ID][0]
		}
		return nil
	}
	for _, nd := range g.Nodes {
		if nd.Op == ReLU && nd.In[0].Op == Norm && only(nd.In[0]) == nd {
			f.Fused[nd.ID], f.ReLUOf[nd.In[0].ID] = true, nd
		}
	}
	for _, c := range g.Nodes {
		bn := only(c)
		if c.Op != Conv || bn == nil || bn.Op != Norm || !bn.Norm.Info().Foldable {
			continue
		}
		fl := &Fold{Norm: bn, Out: bn}
		if r := only(bn); r != nil && r.Op == ReLU {
			fl.Out, fl.ReLU = r, true
		} else if a := only(bn); a != nil && a.Op == Add {
			other := a.In[0]
			if other == bn {
				other = a.In[1]
			}
			// The later input of a residual add carries the add and its
			// ReLU; the earlier one is ready by then.
			if r := only(a); r != nil && r.Op == ReLU && other.ID < bn.ID {
				fl.Out, fl.Res, fl.ReLU = r, other, true
				f.Folded[a.ID] = true
			}
		}
		f.Folds[c.ID] = fl
		f.Folded[bn.ID] = true
		if fl.ReLU {
			f.Folded[fl.Out.ID] = true
		}
	}
	return f
}
