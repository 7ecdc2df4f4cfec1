package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Neither avo nor Go's assembler knows the AVX512_BF16 instructions, so
// the kernels that use them carry their EVEX encodings as BYTE
// directives (each with the instruction in a comment). evexOp is one such
// instruction: its opcode, mandatory prefix (pp: 1 66, 2 F3, 3 F2) and
// opcode map (mm: 2 is 0F38), all 512-bit and W0.
type evexOp struct {
	name       string
	pp, mm, op byte
	// noSrc1 marks a two-operand form (vvvv unused, 1111).
	noSrc1 bool
}

var (
	// vdpbf16ps dst, src1, src2: for each float32 lane i, dst[i] +=
	// src1.bf16[2i]·src2.bf16[2i] + src1.bf16[2i+1]·src2.bf16[2i+1]
	// (EVEX.512.F3.0F38.W0 52 /r).
	vdpbf16ps = evexOp{name: "VDPBF16PS", pp: 2, mm: 2, op: 0x52}
	// vcvtne2ps2bf16 dst, src1, src2: dst's low 16 bf16 are src2's 16
	// float32 rounded to nearest even, its high 16 src1's
	// (EVEX.512.F2.0F38.W0 72 /r).
	vcvtne2ps2bf16 = evexOp{name: "VCVTNE2PS2BF16", pp: 3, mm: 2, op: 0x72}
)

// encode returns the EVEX encoding of op on 512-bit registers: dst in
// ModRM.reg, src1 in vvvv, src2 in ModRM.rm (register numbers 0-31).
func (op evexOp) encode(dst, src1, src2 int) ([]byte, error) {
	for _, r := range []int{dst, src1, src2} {
		if r < 0 || r > 31 {
			return nil, fmt.Errorf("asm: %s: register %d outside zmm0-zmm31", op.name, r)
		}
	}
	if op.noSrc1 {
		src1 = 0
	}
	inv := func(b int) byte { return byte(^b & 1) }
	// P0: R X B R' 0 0 m m, R/X/B/R' inverted. X extends rm to 32
	// registers in the register form.
	p0 := inv(dst>>3)<<7 | inv(src2>>4)<<6 | inv(src2>>3)<<5 | inv(dst>>4)<<4 | op.mm
	// P1: W vvvv(inverted) 1 pp.
	p1 := byte((^src1&15)<<3) | 1<<2 | op.pp
	// P2: z L'L b V' aaa: 512-bit (L'L = 10), no mask, V' inverted.
	p2 := byte(2<<5) | inv(src1>>4)<<3
	modrm := byte(3<<6) | byte(dst&7)<<3 | byte(src2&7)
	return []byte{0x62, p0, p1, p2, op.op, modrm}, nil
}

// emitEVEX writes op dst, src1, src2 (in Go's operand order: src2,
// src1, dst) as BYTE directives.
func emitEVEX(ctx *build.Context, op evexOp, src2, src1, dst reg.VecPhysical) error {
	b, err := op.encode(int(dst.PhysicalIndex()), int(src1.PhysicalIndex()), int(src2.PhysicalIndex()))
	if err != nil {
		return err
	}
	ctx.Commentf("%s %s, %s, %s", op.name, src2.Asm(), src1.Asm(), dst.Asm())
	for _, x := range b {
		ctx.Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []operand.Op{operand.U8(x)}})
	}
	return nil
}
