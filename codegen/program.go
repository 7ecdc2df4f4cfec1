package codegen

import (
	"fmt"

	"github.com/netc/netc/compiler"
)

// A statement is how a compiler.Call prints: recv.method(p, operands...),
// a package function of layers when recv is "layers", or copy(operands)
// when method is "copy". Codegen prints the compiler's Program; it adds
// no call of its own.
type statement struct {
	layer    *compiler.Node // the receiver when it is a layer with parameters
	recv     string         // else: "m.in", "m.maxpool", "layers" or ""
	method   string
	operands []operand
}

// operand is a call argument: a buffer, a pointer to a layer, nil, or a
// constant.
type operand struct {
	buf   *compiler.Buffer
	layer *compiler.Node
	null  bool
	lit   any // int or bool
}

func bufOp(b *compiler.Buffer) operand {
	if b == nil {
		return operand{null: true}
	}
	return operand{buf: b}
}

// statementOf is the Go statement of call c.
func statementOf(c *compiler.Call) statement {
	nd := c.Node
	x, z, dy, y := bufOp(c.X), bufOp(c.Z), bufOp(c.DY), bufOp(c.Y)
	layer := func(method string, ops ...operand) statement {
		return statement{layer: nd, method: method, operands: ops}
	}
	fn := func(method string, ops ...operand) statement {
		return statement{recv: "layers", method: method, operands: ops}
	}
	pool := func() (c, hw operand) {
		in := nd.In[0]
		return operand{lit: in.C}, operand{lit: in.H * in.W}
	}
	switch c.Op {
	case compiler.InputOp:
		return statement{recv: "m.in", method: "Forward", operands: []operand{x, y}}
	case compiler.InputBackward:
		return statement{recv: "m.in", method: "Backward", operands: []operand{dy, y}}
	case compiler.ConvOp, compiler.LinearOp:
		return layer("Forward", x, y)
	case compiler.ConvBackward, compiler.LinearBackward:
		return layer("Backward", x, dy, y)
	case compiler.FoldedConv:
		return layer("FoldedForward", x, operand{layer: c.Fold.Norm}, z, y, operand{lit: c.ReLU})
	case compiler.FoldedConvBackward:
		return layer("FoldedBackward", dy, y)
	case compiler.NormOp:
		return layer("Forward", x, y, operand{lit: c.ReLU})
	case compiler.NormBackward:
		return layer("Backward", x, z, dy, y)
	case compiler.ReLUOp:
		return fn("ReLU", x, y)
	case compiler.ReLUBackward:
		return fn("ReLUBackward", z, dy, y)
	case compiler.AddOp:
		return fn("Add", x, z, y)
	case compiler.Copy:
		return statement{method: "copy", operands: []operand{y, x}}
	case compiler.MaxPoolOp:
		return statement{recv: "m.maxpool", method: "Forward", operands: []operand{x, y}}
	case compiler.MaxPoolBackward:
		return statement{recv: "m.maxpool", method: "Backward", operands: []operand{dy, y}}
	case compiler.AvgPoolOp:
		c, hw := pool()
		return fn("AvgPool", c, hw, x, y)
	case compiler.AvgPoolBackward:
		c, hw := pool()
		return fn("AvgPoolBackward", c, hw, dy, y)
	}
	panic(fmt.Sprintf("codegen: no statement for call %v", c.Op))
}

// external is the Go source of a buffer outside the arena.
var external = map[compiler.External]string{
	compiler.Image:   "x.Data",
	compiler.Logits:  "m.logits.Data",
	compiler.DLogits: "dlogits.Data",
	compiler.DImage:  "m.dx.Data",
}
