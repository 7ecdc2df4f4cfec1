package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"

	"github.com/netc/netc/runtime/kernels/abi"
)

// FMAPeak generates fmaPeak<ISA>(n int): n iterations of isa.FMAChains
// independent vector FMAs, the machine's float32 peak (each iteration is
// isa.PeakFlops flops).
func FMAPeak(ctx *build.Context, isa *abi.ISA) error {
	name := "fmaPeak" + isa.Suffix
	acc, ops, err := begin(ctx, isa, Plan{Accumulators: isa.FMAChains, Operands: 2}, name, "func(n int)",
		fmt.Sprintf("%s runs n iterations of %d independent %d-lane FMAs.", name, isa.FMAChains, isa.Lanes))
	if err != nil {
		return err
	}
	n := ctx.Load(ctx.Param("n"), ctx.GP64())
	for _, v := range append(acc, ops...) {
		ctx.VXORPS(v, v, v)
	}
	ctx.Label("loop")
	for _, v := range acc {
		ctx.VFMADD231PS(ops[0], ops[1], v)
	}
	ctx.DECQ(n)
	ctx.JNZ(operand.LabelRef("loop"))
	ctx.VZEROUPPER()
	ctx.RET()
	return nil
}
