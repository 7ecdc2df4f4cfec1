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

// encodeMem returns the EVEX encoding of op with its second source in
// memory at disp(base), base a general register (0-15): the 64 bytes
// there, or with bcst its 32 bits broadcast to every lane ({1to16}: a
// bf16 pair). A displacement that is a multiple of the operand's size
// (4 broadcast, 64 whole) within ±128 of them takes one byte (EVEX's
// compressed disp8*N), others four.
func (op evexOp) encodeMem(dst, src1, base int, disp int32, bcst bool) ([]byte, error) {
	if dst < 0 || dst > 31 || src1 < 0 || src1 > 31 {
		return nil, fmt.Errorf("asm: %s: register outside zmm0-zmm31", op.name)
	}
	if base < 0 || base > 15 {
		return nil, fmt.Errorf("asm: %s: base register %d outside the 16 general registers", op.name, base)
	}
	if op.noSrc1 {
		src1 = 0
	}
	inv := func(b int) byte { return byte(^b & 1) }
	p0 := inv(dst>>3)<<7 | 1<<6 | inv(base>>3)<<5 | inv(dst>>4)<<4 | op.mm
	p1 := byte((^src1&15)<<3) | 1<<2 | op.pp
	p2 := byte(2<<5) | inv(src1>>4)<<3
	n := int32(64)
	if bcst {
		p2 |= 1 << 4
		n = 4
	}
	var mod byte
	var tail []byte
	switch {
	case disp == 0 && base&7 != 5: // rbp and r13 have no displacement-free form
	case disp%n == 0 && disp/n >= -128 && disp/n <= 127:
		mod, tail = 1, []byte{byte(int8(disp / n))}
	default:
		mod, tail = 2, []byte{byte(disp), byte(disp >> 8), byte(disp >> 16), byte(disp >> 24)}
	}
	b := []byte{0x62, p0, p1, p2, op.op, mod<<6 | byte(dst&7)<<3 | byte(base&7)}
	if base&7 == 4 { // rsp and r12 need a SIB byte: no index, base
		b = append(b, 0x24)
	}
	return append(b, tail...), nil
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

// emitEVEXMem writes op dst, src1, disp(base) (Go's order: the memory
// operand, src1, dst) as BYTE directives; base must be a physical
// general register, since the bytes are fixed before allocation.
func emitEVEXMem(ctx *build.Context, op evexOp, base reg.Physical, disp int32, bcst bool, src1, dst reg.VecPhysical) error {
	b, err := op.encodeMem(int(dst.PhysicalIndex()), int(src1.PhysicalIndex()), int(base.PhysicalIndex()), disp, bcst)
	if err != nil {
		return err
	}
	mem := fmt.Sprintf("%d(%s)", disp, base.Asm())
	if bcst {
		mem += "{1to16}"
	}
	ctx.Commentf("%s %s, %s, %s", op.name, mem, src1.Asm(), dst.Asm())
	for _, x := range b {
		ctx.Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []operand.Op{operand.U8(x)}})
	}
	return nil
}
