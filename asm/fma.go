package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
)

// FMAChains is the number of independent FMA chains the peak loop keeps
// in flight per ISA: enough to cover FMA latency (4 cycles) on two pipes.
var FMAChains = map[string]int{"AVX2": 12, "AVX512": 24}

// FMAPeak generates fmaPeak<ISA>(n int): n iterations of FMAChains
// independent vector FMAs, the machine's float32 peak (each iteration is
// 2·Lanes·chains flops).
func FMAPeak(ctx *build.Context, isa ISA) error {
	name := "fmaPeak" + isa.Name
	acc, ops, err := begin(ctx, isa, Plan{Accumulators: FMAChains[isa.Name], Operands: 2}, name, "func(n int)",
		fmt.Sprintf("%s runs n iterations of %d independent %d-lane FMAs.", name, FMAChains[isa.Name], isa.Lanes))
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
