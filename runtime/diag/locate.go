package diag

import (
	"fmt"
	"math/rand/v2"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
)

// FirstNonFinite runs the images x through m's weights layer by layer on
// the reference interpreter (runtime/ref's ops) in mode and describes
// the first layer whose output holds a NaN or an infinity: the layer of
// a model's spec where a non-finite value appears first. It is an
// eval.Locator.
func FirstNonFinite(m nn.Model, x *nn.Tensor, mode nn.Mode) (string, error) {
	g, err := compiler.Lower(m.Spec())
	if err != nil {
		return "", err
	}
	net := interp.New[float32](g, rand.New(rand.NewPCG(0, 0)))
	for _, p := range m.Params() {
		dst := net.Param(p.Name)
		if len(dst) != len(p.Value.Data) {
			return "", fmt.Errorf("parameter %s: %d values, the spec's layer has %d", p.Name, len(p.Value.Data), len(dst))
		}
		copy(dst, p.Value.Data)
	}
	stats := map[string]*nn.NormStats{}
	for _, st := range m.NormState() {
		stats[st.Name] = st
	}
	for _, nd := range g.NormLayers() {
		for br := range nn.Branch(nd.Norm.StatSets()) {
			name := compiler.BranchName(nd.Name, int(br))
			st, ok := stats[name]
			mean, variance := net.Running(nd, br)
			if !ok || len(st.Mean) != len(mean) || len(st.Var) != len(variance) {
				return "", fmt.Errorf("the model has no running statistics %s of %d channels", name, len(mean))
			}
			copy(mean, st.Mean)
			copy(variance, st.Var)
		}
	}
	if len(x.Shape) != 4 || x.Len() != x.Shape[0]*g.Nodes[0].Size() {
		return "", fmt.Errorf("input of shape %v, the model takes [N %d %d %d]", x.Shape, g.Nodes[0].C, g.Nodes[0].H, g.Nodes[0].W)
	}
	mode.UpdateStats = false // a diagnosis changes nothing
	net.Forward(x.Data, x.Shape[0], mode)
	for _, nd := range g.Nodes {
		out := net.Activation(nd)
		if i := nn.FirstNonFinite(out); i >= 0 {
			image, at := i/nd.Size(), i%nd.Size()
			c := at / (nd.H * nd.W)
			return fmt.Sprintf("the first layer whose output is not finite is %s (%s, %dx%dx%d), image %d of the input, channel %d: %v",
				layerName(nd), nd.Op, nd.C, nd.H, nd.W, image, c, out[i]), nil
		}
	}
	return "every layer's output is finite on the reference interpreter: the model's own kernels make the NaN or infinity", nil
}

// layerName is a node's name in messages.
func layerName(nd *compiler.Node) string {
	if nd.Name == "" {
		return fmt.Sprintf("node %d", nd.ID)
	}
	return nd.Name
}
