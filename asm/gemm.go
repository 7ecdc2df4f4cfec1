package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// GemmRows is the rows of C that the GEMM micro-kernel keeps in registers
// per ISA; its columns are two vectors (2·Lanes). AVX2: 6×16 floats in 12
// ymm accumulators; AVX-512: 14×32 floats in 28 zmm accumulators.
var GemmRows = map[string]int{"AVX2": 6, "AVX512": 14}

// GemmKernel generates sgemmKernel<ISA>(k int, a, b, c *float32, ldc int):
// C[rows×2·Lanes] += A·B, where a is a packed panel of k columns of rows
// floats (a[p·rows+i]), b a packed panel of k rows of 2·Lanes floats
// (b[p·2·Lanes+j]) and c a tile of a row-major matrix with row stride ldc
// floats. k must be at least 1.
func GemmKernel(ctx *build.Context, isa ISA) error {
	rows := GemmRows[isa.Name]
	name := "sgemmKernel" + isa.Name
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
