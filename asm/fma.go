package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/netc/netc/runtime/kernels/abi"
)

// FMAPeak generates fmaPeak<ISA>(n int): n iterations of isa.FMAChains
// independent vector FMAs, the machine's float32 peak (each iteration is
// isa.PeakFlops flops).
func FMAPeak(ctx *build.Context, isa *abi.ISA) error {
	name := "fmaPeak" + isa.Suffix
	return peakLoop(ctx, isa, name, fmt.Sprintf("%s runs n iterations of %d independent %d-lane FMAs.", name, isa.FMAChains, isa.Lanes),
		func(a, b, acc reg.VecPhysical) error {
			ctx.VFMADD231PS(a, b, acc)
			return nil
		})
}

// peakLoop generates name(n int): n iterations of step on each of
// isa.FMAChains independent accumulators (acc op= a, b), all registers
// zeroed first: a peak loop.
func peakLoop(ctx *build.Context, isa *abi.ISA, name, doc string, step func(a, b, acc reg.VecPhysical) error) error {
	acc, ops, err := begin(ctx, isa, Plan{Accumulators: isa.FMAChains, Operands: 2}, name, "func(n int)", doc)
	if err != nil {
		return err
	}
	n := ctx.Load(ctx.Param("n"), ctx.GP64())
	for _, v := range append(acc, ops...) {
		ctx.VXORPS(v, v, v)
	}
	ctx.Label("loop")
	for _, v := range acc {
		if err := step(ops[0], ops[1], v); err != nil {
			return err
		}
	}
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	ctx.VZEROUPPER()
	ctx.RET()
	return nil
}
