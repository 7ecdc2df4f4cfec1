package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/netc/netc/runtime/kernels/abi"
)

// GemmKernel generates sgemmKernel<ISA>(k int, a, b, c *float32, ldc int):
// C[rows×2·Lanes] += A·B with isa.Gemm's tile (rows = isa.Gemm.Rows; its
// columns must be two vectors), where a is a packed panel of k columns of rows
// floats (a[p·rows+i]), b a packed panel of k rows of 2·Lanes floats
// (b[p·2·Lanes+j]) and c a tile of a row-major matrix with row stride ldc
// floats. k must be at least 1.
func GemmKernel(ctx *build.Context, isa *abi.ISA) error {
	rows := isa.Gemm.Rows
	name := "sgemmKernel" + isa.Suffix
	if isa.Gemm.Cols != 2*isa.Lanes {
		return fmt.Errorf("%s: a %d-column tile is not two %d-lane vectors", name, isa.Gemm.Cols, isa.Lanes)
	}
	// Operands: two B vectors and one broadcast A value.
	acc, ops, err := begin(ctx, isa, Plan{Accumulators: 2 * rows, Operands: 3}, name, "func(k int, a, b, c *float32, ldc int)",
		fmt.Sprintf("%s adds the product of a packed %d-row A panel and a packed %d-column B panel of depth k to a %d×%d tile of C.",
			name, rows, 2*isa.Lanes, rows, 2*isa.Lanes))
	if err != nil {
		return err
	}
	b0, b1, bc := ops[0], ops[1], ops[2]
	vec := 4 * isa.Lanes // bytes in one vector

	k := ctx.Load(ctx.Param("k"), ctx.GP64())
	a := ctx.Load(ctx.Param("a"), ctx.GP64())
	b := ctx.Load(ctx.Param("b"), ctx.GP64())
	for _, v := range acc {
		ctx.VXORPS(v, v, v)
	}

	ctx.Label("depth")
	ctx.VMOVUPS(operand.Mem{Base: b}, b0)
	ctx.VMOVUPS(operand.Mem{Base: b, Disp: vec}, b1)
	for i := 0; i < rows; i++ {
		ctx.VBROADCASTSS(operand.Mem{Base: a, Disp: 4 * i}, bc)
		ctx.VFMADD231PS(b0, bc, acc[2*i])
		ctx.VFMADD231PS(b1, bc, acc[2*i+1])
	}
	ctx.ADDQ(operand.Imm(uint64(4*rows)), a)
	ctx.ADDQ(operand.Imm(uint64(2*vec)), b)
	ctx.DECQ(k)
	ctx.JNZ(operand.LabelRef("depth"))

	c := ctx.Load(ctx.Param("c"), ctx.GP64())
	ldc := ctx.Load(ctx.Param("ldc"), ctx.GP64())
	ctx.SHLQ(operand.Imm(2), ldc) // floats to bytes
	for i := 0; i < rows; i++ {
		for h, v := range []reg.VecPhysical{acc[2*i], acc[2*i+1]} {
			m := operand.Mem{Base: c, Disp: h * vec}
			ctx.VADDPS(m, v, v)
			ctx.VMOVUPS(v, m)
		}
		if i < rows-1 {
			ctx.ADDQ(ldc, c)
		}
	}
	ctx.VZEROUPPER()
	ctx.RET()
	return nil
}
