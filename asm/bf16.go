package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/netc/netc/runtime/kernels/abi"
)

// BF16Kernels generates, for an ISA with bf16 kernels (abi.ISA.BF16):
//
//   - bf16Peak<ISA>(n int): n iterations of isa.FMAChains independent
//     VDPBF16PS, the CPU's bf16 peak (each iteration is 4·Lanes flops per
//     chain: two multiply-adds per float32 lane);
//   - bf16Dot<ISA>(acc, a, b *float32): acc's 16 float32 += the dot
//     products of the bf16 pairs of a and b (64 bytes each), one
//     VDPBF16PS;
//   - bf16DotBroadcast<ISA>(acc, a, b *float32): the same with b's
//     first bf16 pair broadcast to every lane, from memory (the form
//     the conv kernels use for activations), with b at 8 bytes past a
//     pointer in R12 (a SIB byte and a compressed displacement);
//   - bf16Convert<ISA>(dst, lo, hi *float32): dst's 32 bf16 (64 bytes)
//     are lo's then hi's 16 float32 rounded to nearest even, one
//     VCVTNE2PS2BF16.
//   - bf16FromFloat32<ISA>(dst *uint16, src *float32, pixels int): the
//     pixels×16 float32 of src (NCHW16c: 16 channels a pixel) rounded to
//     bf16 in the same layout, two pixels per VCVTNE2PS2BF16 (so a
//     channel pair of a pixel is one 32-bit word, what the conv kernels
//     broadcast); pixels ≥ 1.
//
// Other ISAs get none.
func BF16Kernels(ctx *build.Context, isa *abi.ISA) error {
	if !isa.BF16 {
		return nil
	}
	if !isa.EVEX || isa.Lanes != 16 {
		return fmt.Errorf("asm: ISA %s has bf16 kernels but not 16-lane EVEX registers", isa.Name)
	}
	name := "bf16Peak" + isa.Suffix
	err := peakLoop(ctx, isa, name, fmt.Sprintf("%s runs n iterations of %d independent VDPBF16PS.", name, isa.FMAChains),
		func(a, b, acc reg.VecPhysical) error { return emitEVEX(ctx, vdpbf16ps, b, a, acc) })
	if err != nil {
		return err
	}

	name = "bf16Dot" + isa.Suffix
	_, regs, err := begin(ctx, isa, Plan{Operands: 3}, name, "func(acc, a, b *float32)",
		name+" adds to acc's 16 float32 the dot products of the bf16 pairs of a and b (one VDPBF16PS).")
	if err != nil {
		return err
	}
	pa, pb, pc := ctx.Load(ctx.Param("acc"), ctx.GP64()), ctx.Load(ctx.Param("a"), ctx.GP64()), ctx.Load(ctx.Param("b"), ctx.GP64())
	ctx.VMOVUPS(operand.Mem{Base: pa}, regs[0])
	ctx.VMOVUPS(operand.Mem{Base: pb}, regs[1])
	ctx.VMOVUPS(operand.Mem{Base: pc}, regs[2])
	if err := emitEVEX(ctx, vdpbf16ps, regs[2], regs[1], regs[0]); err != nil {
		return err
	}
	ctx.VMOVUPS(regs[0], operand.Mem{Base: pa})
	ctx.VZEROUPPER()
	ctx.RET()

	name = "bf16DotBroadcast" + isa.Suffix
	_, regs, err = begin(ctx, isa, Plan{Operands: 2}, name, "func(acc, a, b *float32)",
		name+" adds to acc's 16 float32 the dot products of a's bf16 pairs with b's first pair (one VDPBF16PS, b broadcast from memory).")
	if err != nil {
		return err
	}
	pa, pb = ctx.Load(ctx.Param("acc"), ctx.GP64()), ctx.Load(ctx.Param("a"), ctx.GP64())
	ctx.Load(ctx.Param("b"), reg.R12)
	ctx.SUBQ(operand.Imm(8), reg.R12)
	ctx.VMOVUPS(operand.Mem{Base: pa}, regs[0])
	ctx.VMOVUPS(operand.Mem{Base: pb}, regs[1])
	if err := emitEVEXMem(ctx, vdpbf16ps, reg.R12, 8, true, regs[1], regs[0]); err != nil {
		return err
	}
	ctx.VMOVUPS(regs[0], operand.Mem{Base: pa})
	ctx.VZEROUPPER()
	ctx.RET()

	name = "bf16FromFloat32" + isa.Suffix
	_, regs, err = begin(ctx, isa, Plan{Operands: 3}, name, "func(dst *uint16, src *float32, pixels int)",
		name+" rounds pixels×16 float32 of src to bf16 in dst, two pixels per VCVTNE2PS2BF16.")
	if err != nil {
		return err
	}
	pd, ps := ctx.Load(ctx.Param("dst"), ctx.GP64()), ctx.Load(ctx.Param("src"), ctx.GP64())
	n := ctx.Load(ctx.Param("pixels"), ctx.GP64())
	pairs := ctx.GP64()
	ctx.MOVQ(n, pairs)
	ctx.SHRQ(operand.Imm(1), pairs)
	ctx.JZ(operand.LabelRef("odd"))
	ctx.Label("pair")
	ctx.VMOVUPS(operand.Mem{Base: ps}, regs[1])
	ctx.VMOVUPS(operand.Mem{Base: ps, Disp: 64}, regs[2])
	if err := emitEVEX(ctx, vcvtne2ps2bf16, regs[1], regs[2], regs[0]); err != nil { // low half: the first pixel
		return err
	}
	ctx.VMOVUPS(regs[0], operand.Mem{Base: pd})
	ctx.ADDQ(operand.Imm(128), ps)
	ctx.ADDQ(operand.Imm(64), pd)
	ctx.DECQ(pairs)
	ctx.JNZ(operand.LabelRef("pair"))
	ctx.Label("odd")
	ctx.ANDQ(operand.Imm(1), n)
	ctx.JZ(operand.LabelRef("done"))
	ctx.VMOVUPS(operand.Mem{Base: ps}, regs[1])
	if err := emitEVEX(ctx, vcvtne2ps2bf16, regs[1], regs[1], regs[0]); err != nil {
		return err
	}
	ctx.VMOVDQU(regs[0].AsY(), operand.Mem{Base: pd}) // the low half: one pixel
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()

	name = "bf16Convert" + isa.Suffix
	_, regs, err = begin(ctx, isa, Plan{Operands: 3}, name, "func(dst, lo, hi *float32)",
		name+" writes to dst the 32 bf16 of lo's then hi's 16 float32, rounded to nearest even (one VCVTNE2PS2BF16).")
	if err != nil {
		return err
	}
	pd, plo, phi := ctx.Load(ctx.Param("dst"), ctx.GP64()), ctx.Load(ctx.Param("lo"), ctx.GP64()), ctx.Load(ctx.Param("hi"), ctx.GP64())
	ctx.VMOVUPS(operand.Mem{Base: plo}, regs[1])
	ctx.VMOVUPS(operand.Mem{Base: phi}, regs[2])
	if err := emitEVEX(ctx, vcvtne2ps2bf16, regs[1], regs[2], regs[0]); err != nil {
		return err
	}
	ctx.VMOVUPS(regs[0], operand.Mem{Base: pd})
	ctx.VZEROUPPER()
	ctx.RET()
	return nil
}
