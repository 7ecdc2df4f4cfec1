package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/netc/netc/runtime/kernels/abi"
)

// NormKernels generates the streaming kernels of normalization layers
// (see package abi):
//
//	affine<ISA>(x, y, scale, shift *float32, pixels int, floor float32)
//	channelSums<ISA>(x *float32, pixels int, out *float32)
//	backwardSums<ISA>(dz, x *float32, pixels int, out *float32)
//	backwardReduce<ISA>(dy, x, mask, dz *float32, pixels int, out *float32)
//	backwardApply<ISA>(dz, x, dx, a, b, k *float32, pixels int)
//	reluBackward<ISA>(y, dy, dx *float32, rows int)
//	add<ISA>(a, b, y *float32, rows int)
func NormKernels(ctx *build.Context, isa *abi.ISA) error {
	g := normGen{ctx: ctx, isa: isa, vpb: 16 / isa.Lanes, vb: 4 * isa.Lanes}
	for _, f := range []func() error{g.affine, g.channelSums, func() error { return g.backwardReduce(false) },
		func() error { return g.backwardReduce(true) }, g.backwardApply, g.reluBackward, g.add} {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

type normGen struct {
	ctx *build.Context
	isa *abi.ISA
	vpb int // vectors per 16-channel block
	vb  int // bytes per vector
}

// zero clears v with an instruction of the ISA (VXORPS on zmm needs
// AVX512DQ; VPXORD is AVX-512F).
func (g normGen) zero(v reg.VecPhysical) {
	if g.isa.EVEX {
		g.ctx.VPXORD(v, v, v)
	} else {
		g.ctx.VXORPS(v, v, v)
	}
}

// at is vector v of pixel p of the block-plane at base.
func (g normGen) at(base reg.Register, p, v int) operand.Mem {
	return operand.Mem{Base: base, Disp: 64*p + g.vb*v}
}

// ptrs loads pointer parameters.
func (g normGen) ptrs(names ...string) []reg.Register {
	r := make([]reg.Register, len(names))
	for i, n := range names {
		r[i] = g.ctx.Load(g.ctx.Param(n), g.ctx.GP64())
	}
	return r
}

// pixelLoop runs body on u pixels at a time while at least u are left,
// then on one pixel at a time, moving every pointer on 64 bytes a pixel.
// n (≥ 1) counts the pixels down.
func (g normGen) pixelLoop(n reg.Register, ptrs []reg.Register, u int, body func(pixels int)) {
	c := g.ctx
	c.Label("wide")
	c.CMPQ(n, operand.Imm(uint64(u)))
	c.JL(operand.LabelRef("narrow"))
	body(u)
	for _, p := range ptrs {
		c.ADDQ(operand.U32(uint64(64*u)), p)
	}
	c.SUBQ(operand.Imm(uint64(u)), n)
	c.JMP(operand.LabelRef("wide"))
	c.Label("narrow")
	c.TESTQ(n, n)
	c.JZ(operand.LabelRef("done"))
	c.Label("one")
	body(1)
	for _, p := range ptrs {
		c.ADDQ(operand.U32(64), p)
	}
	c.DECQ(n)
	c.JNZ(operand.LabelRef("one"))
	c.Label("done")
}

func (g normGen) end() {
	g.ctx.VZEROUPPER()
	g.ctx.RET()
}

// mask sets t to m where the float at maskMem is > 0 and to zero
// elsewhere (NaN included); zero holds zeros.
func (g normGen) masked(maskMem, m operand.Mem, zero, t reg.VecPhysical) {
	if g.isa.EVEX {
		g.ctx.VCMPPS(operand.Imm(1), maskMem, zero, reg.K1) // K1 = 0 < mask
		g.ctx.VMOVUPS_Z(m, reg.K1, t)
	} else {
		g.ctx.VCMPPS(operand.Imm(1), maskMem, zero, t) // t = 0 < mask (all ones or zero)
		g.ctx.VANDPS(m, t, t)
	}
}

func (g normGen) affine() error {
	u := abi.NormStreamUnroll
	name := "affine" + g.isa.Suffix
	data, ops, err := begin(g.ctx, g.isa, Plan{Accumulators: u * g.vpb, Operands: 2*g.vpb + 1}, name,
		"func(x, y, scale, shift *float32, pixels int, floor float32)",
		fmt.Sprintf("%s sets y = max(floor, x·scale + shift) on a block-plane of pixels×16 floats; scale and shift hold 16 channels.", name))
	if err != nil {
		return err
	}
	c := g.ctx
	scale, shift, floor := ops[:g.vpb], ops[g.vpb:2*g.vpb], ops[2*g.vpb]
	p := g.ptrs("x", "y", "scale", "shift")
	x, y := p[0], p[1]
	for v := range g.vpb {
		c.VMOVUPS(operand.Mem{Base: p[2], Disp: g.vb * v}, scale[v])
		c.VMOVUPS(operand.Mem{Base: p[3], Disp: g.vb * v}, shift[v])
	}
	f, err := c.Param("floor").Resolve()
	if err != nil {
		return err
	}
	c.VBROADCASTSS(f.Addr, floor)
	n := c.Load(c.Param("pixels"), c.GP64())
	g.pixelLoop(n, []reg.Register{x, y}, u, func(pixels int) {
		for i := range pixels * g.vpb {
			c.VMOVUPS(g.at(x, i/g.vpb, i%g.vpb), data[i])
		}
		for i := range pixels * g.vpb {
			c.VFMADD213PS(shift[i%g.vpb], scale[i%g.vpb], data[i])
		}
		for i := range pixels * g.vpb {
			c.VMAXPS(data[i], floor, data[i]) // NaN stays NaN
		}
		for i := range pixels * g.vpb {
			c.VMOVUPS(data[i], g.at(y, i/g.vpb, i%g.vpb))
		}
	})
	g.end()
	return nil
}

// reduceStore adds the chains of each accumulator set into chain 0 and
// stores the sets one after another at out.
func (g normGen) reduceStore(out reg.Register, sets [][]reg.VecPhysical) {
	for s, acc := range sets {
		for ch := g.vpb; ch < len(acc); ch += g.vpb {
			for v := range g.vpb {
				g.ctx.VADDPS(acc[ch+v], acc[v], acc[v])
			}
		}
		for v := range g.vpb {
			g.ctx.VMOVUPS(acc[v], operand.Mem{Base: out, Disp: 64*s + g.vb*v})
		}
	}
}

func (g normGen) channelSums() error {
	u := g.isa.NormUnroll
	name := "channelSums" + g.isa.Suffix
	acc, ops, err := begin(g.ctx, g.isa, Plan{Accumulators: 2 * u * g.vpb, Operands: u * g.vpb}, name,
		"func(x *float32, pixels int, out *float32)",
		fmt.Sprintf("%s sets out[0:16] to the per-channel sums and out[16:32] to the sums of squares of a block-plane of pixels×16 floats.", name))
	if err != nil {
		return err
	}
	c := g.ctx
	sum, sq := acc[:u*g.vpb], acc[u*g.vpb:]
	for _, v := range acc {
		g.zero(v)
	}
	x := g.ptrs("x")[0]
	n := c.Load(c.Param("pixels"), c.GP64())
	g.pixelLoop(n, []reg.Register{x}, u, func(pixels int) {
		for i := range pixels * g.vpb {
			c.VMOVUPS(g.at(x, i/g.vpb, i%g.vpb), ops[i])
		}
		for i := range pixels * g.vpb {
			c.VADDPS(ops[i], sum[i], sum[i])
			c.VFMADD231PS(ops[i], ops[i], sq[i])
		}
	})
	g.reduceStore(g.ptrs("out")[0], [][]reg.VecPhysical{sum, sq})
	g.end()
	return nil
}

// backwardReduce generates backwardReduce (masked) or backwardSums.
func (g normGen) backwardReduce(masked bool) error {
	u := g.isa.NormUnroll
	name, sig, doc := "backwardSums"+g.isa.Suffix, "func(dz, x *float32, pixels int, out *float32)",
		"%s sets out[0:16] to the per-channel sums of dz and out[16:32] to those of dz·x on a block-plane of pixels×16 floats."
	if masked {
		name, sig, doc = "backwardReduce"+g.isa.Suffix, "func(dy, x, mask, dz *float32, pixels int, out *float32)",
			"%s sets dz = dy where mask > 0, else 0, on a block-plane of pixels×16 floats, out[0:16] to the per-channel sums of dz and out[16:32] to those of dz·x."
	}
	acc, ops, err := begin(g.ctx, g.isa, Plan{Accumulators: 2 * u * g.vpb, Operands: u*g.vpb + 1}, name, sig, fmt.Sprintf(doc, name))
	if err != nil {
		return err
	}
	c := g.ctx
	sum, sumX, zero := acc[:u*g.vpb], acc[u*g.vpb:], ops[u*g.vpb]
	for _, v := range acc {
		g.zero(v)
	}
	var p []reg.Register
	if masked {
		g.zero(zero)
		p = g.ptrs("dy", "x", "mask", "dz")
	} else {
		p = g.ptrs("dz", "x")
	}
	n := c.Load(c.Param("pixels"), c.GP64())
	g.pixelLoop(n, p, u, func(pixels int) {
		for i := range pixels * g.vpb {
			pix, v := i/g.vpb, i%g.vpb
			if masked {
				g.masked(g.at(p[2], pix, v), g.at(p[0], pix, v), zero, ops[i])
			} else {
				c.VMOVUPS(g.at(p[0], pix, v), ops[i])
			}
		}
		for i := range pixels * g.vpb {
			pix, v := i/g.vpb, i%g.vpb
			if masked {
				c.VMOVUPS(ops[i], g.at(p[3], pix, v))
			}
			c.VADDPS(ops[i], sum[i], sum[i])
			c.VFMADD231PS(g.at(p[1], pix, v), ops[i], sumX[i])
		}
	})
	g.reduceStore(g.ptrs("out")[0], [][]reg.VecPhysical{sum, sumX})
	g.end()
	return nil
}

func (g normGen) backwardApply() error {
	u := abi.NormStreamUnroll
	name := "backwardApply" + g.isa.Suffix
	data, ops, err := begin(g.ctx, g.isa, Plan{Accumulators: u * g.vpb, Operands: 3 * g.vpb}, name,
		"func(dz, x, dx, a, b, k *float32, pixels int)",
		fmt.Sprintf("%s sets dx = a·dz + b·x + k on a block-plane of pixels×16 floats; a, b and k hold 16 channels.", name))
	if err != nil {
		return err
	}
	c := g.ctx
	a, b, k := ops[:g.vpb], ops[g.vpb:2*g.vpb], ops[2*g.vpb:]
	p := g.ptrs("dz", "x", "dx", "a", "b", "k")
	for v := range g.vpb {
		c.VMOVUPS(operand.Mem{Base: p[3], Disp: g.vb * v}, a[v])
		c.VMOVUPS(operand.Mem{Base: p[4], Disp: g.vb * v}, b[v])
		c.VMOVUPS(operand.Mem{Base: p[5], Disp: g.vb * v}, k[v])
	}
	n := c.Load(c.Param("pixels"), c.GP64())
	g.pixelLoop(n, p[:3], u, func(pixels int) {
		for i := range pixels * g.vpb {
			c.VMOVAPS(k[i%g.vpb], data[i])
		}
		for i := range pixels * g.vpb {
			c.VFMADD231PS(g.at(p[1], i/g.vpb, i%g.vpb), b[i%g.vpb], data[i])
		}
		for i := range pixels * g.vpb {
			c.VFMADD231PS(g.at(p[0], i/g.vpb, i%g.vpb), a[i%g.vpb], data[i])
		}
		for i := range pixels * g.vpb {
			c.VMOVUPS(data[i], g.at(p[2], i/g.vpb, i%g.vpb))
		}
	})
	g.end()
	return nil
}

func (g normGen) reluBackward() error {
	u := abi.NormStreamUnroll
	name := "reluBackward" + g.isa.Suffix
	data, ops, err := begin(g.ctx, g.isa, Plan{Accumulators: u * g.vpb, Operands: 1}, name,
		"func(y, dy, dx *float32, rows int)",
		fmt.Sprintf("%s sets dx = dy where y > 0, else 0, on rows×16 floats.", name))
	if err != nil {
		return err
	}
	c := g.ctx
	zero := ops[0]
	g.zero(zero)
	p := g.ptrs("y", "dy", "dx")
	n := c.Load(c.Param("rows"), c.GP64())
	g.pixelLoop(n, p, u, func(pixels int) {
		for i := range pixels * g.vpb {
			g.masked(g.at(p[0], i/g.vpb, i%g.vpb), g.at(p[1], i/g.vpb, i%g.vpb), zero, data[i])
		}
		for i := range pixels * g.vpb {
			c.VMOVUPS(data[i], g.at(p[2], i/g.vpb, i%g.vpb))
		}
	})
	g.end()
	return nil
}

func (g normGen) add() error {
	u := abi.NormStreamUnroll
	name := "add" + g.isa.Suffix
	data, _, err := begin(g.ctx, g.isa, Plan{Accumulators: u * g.vpb}, name,
		"func(a, b, y *float32, rows int)",
		fmt.Sprintf("%s sets y = a + b on rows×16 floats.", name))
	if err != nil {
		return err
	}
	c := g.ctx
	p := g.ptrs("a", "b", "y")
	n := c.Load(c.Param("rows"), c.GP64())
	g.pixelLoop(n, p, u, func(pixels int) {
		for i := range pixels * g.vpb {
			c.VMOVUPS(g.at(p[0], i/g.vpb, i%g.vpb), data[i])
		}
		for i := range pixels * g.vpb {
			c.VADDPS(g.at(p[1], i/g.vpb, i%g.vpb), data[i], data[i])
		}
		for i := range pixels * g.vpb {
			c.VMOVUPS(data[i], g.at(p[2], i/g.vpb, i%g.vpb))
		}
	})
	g.end()
	return nil
}
