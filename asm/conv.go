package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/netc/netc/runtime/kernels/abi"
)

// OuterName is the name of the outer kernel of a shape and tile.
func OuterName(isa *abi.ISA, s abi.OuterShape, r, v int) string {
	k := "C"
	if s.Kind == abi.Pixels {
		k = "P"
	}
	return fmt.Sprintf("outer%s%s%dx%dR%dV%d", isa.Suffix, k, s.ARow, s.CRow, r, v)
}

// ConvKernels generates every outer kernel of abi.OuterShapes and
// isa.Tiles, each a func(args *uintptr) taking the argument block
// (abi.OuterArgs).
func ConvKernels(ctx *build.Context, isa *abi.ISA) error {
	for _, s := range abi.OuterShapes {
		for _, t := range isa.Tiles {
			for r := 1; r <= t.MaxR; r++ {
				name := OuterName(isa, s, r, t.V)
				k := outerKernel{shape: s, rows: r, vecs: t.V, stack: 1}
				if err := outer(ctx, isa, name, fmt.Sprintf("%s runs the outer kernel (see package abi) with a %d×%d tile.", name, r, t.V), k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// outerKernel is what one outer kernel computes. The general kernels
// read every loop count, stride and block distance from the argument
// block; a specialized kernel (ModelKernels) has some of those fields
// fixed at generation time and uses them as immediates, and may compute
// several tiles per pass.
type outerKernel struct {
	shape      abi.OuterShape
	rows, vecs int
	// stack is how many tiles, TileA and TileC bytes apart (both fixed),
	// one pass keeps in registers: stack·rows rows.
	stack int
	// fixed are fields of the argument block with their values: the
	// kernel uses these values and never reads the fields.
	fixed map[abi.Field]int
}

// field is an argument field the kernel has as an immediate.
func (k outerKernel) field(f abi.Field) (int, bool) {
	v, ok := k.fixed[f]
	return v, ok
}

func outer(ctx *build.Context, isa *abi.ISA, name, doc string, k outerKernel) error {
	s, vecs := k.shape, k.vecs
	rows := k.rows * k.stack // rows of the registers: k.stack tiles of k.rows
	tileA, fixedTileA := k.field(abi.FieldTileA)
	tileC, fixedTileC := k.field(abi.FieldTileC)
	if k.stack > 1 && !(fixedTileA && fixedTileC) {
		return fmt.Errorf("%s: %d tiles per pass need TileA and TileC fixed", name, k.stack)
	}
	if k.stack < 1 || k.fixed != nil && s.Kind != abi.Channels {
		return fmt.Errorf("%s: unsupported kernel %+v", name, k)
	}
	// Displacements of the rows of A and C from the pass's first.
	rowA := func(r int) int { return r/k.rows*tileA + r%k.rows*s.ARow }
	rowC := func(r int) int { return r/k.rows*tileC + r%k.rows*s.CRow }
	acc, ops, err := begin(ctx, isa, Plan{Accumulators: rows * vecs, Operands: vecs + 1}, name, "func(args *uintptr)", doc)
	if err != nil {
		return err
	}
	bv, bc := ops[:vecs], ops[vecs]
	tile := func(r, v int) reg.VecPhysical { return acc[r*vecs+v] }
	vecBytes := 4 * isa.Lanes
	perBlock := 16 / isa.Lanes
	// vecMem is vector v of a blocked operand at base+disp, the next block
	// blockReg bytes on, or block bytes if blockReg is nil.
	var derr error
	// fits records an error if a displacement or immediate v does not fit
	// 32 bits.
	fits := func(v int) int {
		if v != int(int32(v)) && derr == nil {
			derr = fmt.Errorf("%s: %d does not fit 32 bits", name, v)
		}
		return v
	}
	vecMem := func(base, blockReg reg.Register, block, disp, v int) operand.Mem {
		m := operand.Mem{Base: base, Disp: disp + (v%perBlock)*vecBytes}
		if v/perBlock > 0 {
			if blockReg == nil {
				m.Disp += block
			} else {
				m.Index, m.Scale = blockReg, 1
			}
		}
		fits(m.Disp)
		return m
	}
	spans := vecs > perBlock // the tile's vectors span two blocks
	if vecs > 2*perBlock {
		return fmt.Errorf("%s: %d vectors span more than two blocks", name, vecs)
	}

	p := ctx.Load(ctx.Param("args"), ctx.GP64())
	arg := func(f abi.Field) operand.Mem { return operand.Mem{Base: p, Disp: int(f.Offset())} }
	// load is an argument field: its immediate if fixed, else the field.
	load := func(f abi.Field) operand.Op {
		if v, ok := k.field(f); ok {
			return operand.I32(fits(v))
		}
		return arg(f)
	}
	ctx.Label("tile")
	a, b := ctx.GP64(), ctx.GP64()
	ctx.MOVQ(arg(abi.FieldA), a)
	ctx.MOVQ(arg(abi.FieldB), b)
	var bBlock reg.Register
	bBlockImm, fixedBBlock := k.field(abi.FieldBBlock)
	if spans && !fixedBBlock {
		bBlock = ctx.GP64()
		ctx.MOVQ(arg(abi.FieldBBlock), bBlock)
	}
	for _, v := range acc {
		ctx.VXORPS(v, v, v)
	}

	// step adds one outer product: A at a+aDisp, B at b+bDisp.
	step := func(aDisp, bDisp int) {
		for v := range vecs {
			ctx.VMOVUPS(vecMem(b, bBlock, bBlockImm, bDisp, v), bv[v])
		}
		for r := range rows {
			ctx.VBROADCASTSS(operand.Mem{Base: a, Disp: fits(rowA(r) + aDisp)}, bc)
			for v := range vecs {
				ctx.VFMADD231PS(bv[v], bc, tile(r, v))
			}
		}
	}

	// looped reports whether level l of the nest is a loop: one with a
	// fixed count of 1 is straight code.
	looped := func(l int) bool {
		n, ok := k.field(abi.LoopFields[l].N)
		return !ok || n != 1
	}
	counters := make([]reg.GPVirtual, 4)
	for l := 3; l >= 1; l-- {
		if !looped(l) {
			continue
		}
		counters[l] = ctx.GP64()
		ctx.MOVQ(load(abi.LoopFields[l].N), counters[l])
		ctx.Label(fmt.Sprintf("loop%d", l))
	}
	counters[0] = ctx.GP64()
	switch s.Kind {
	case abi.Channels:
		// Prefetch the rows of A the next step of loop 1 reads (the next
		// block of 16 channels, a plane away): the hardware prefetcher
		// does not follow such strides.
		if a1, ok := k.field(abi.FieldA1); ok {
			for r := range rows {
				ctx.PREFETCHT0(operand.Mem{Base: a, Disp: fits(a1 + 64 + rowA(r))})
			}
		} else {
			next := ctx.GP64()
			ctx.MOVQ(arg(abi.FieldA1), next)
			ctx.LEAQ(operand.Mem{Base: a, Index: next, Scale: 1, Disp: 64}, next)
			for r := range rows {
				ctx.PREFETCHT0(operand.Mem{Base: next, Disp: rowA(r)})
			}
		}
		ctx.MOVQ(operand.U32(16/abi.ChannelUnroll), counters[0])
		ctx.Label("loop0")
		for u := range abi.ChannelUnroll {
			step(4*u, 64*u)
		}
		ctx.ADDQ(operand.U32(4*abi.ChannelUnroll), a)
		ctx.ADDQ(operand.U32(64*abi.ChannelUnroll), b)
	case abi.Pixels:
		a0, b0 := ctx.GP64(), ctx.GP64()
		ctx.MOVQ(arg(abi.FieldA0), a0)
		ctx.MOVQ(arg(abi.FieldB0), b0)
		ctx.MOVQ(arg(abi.FieldN0), counters[0])
		ctx.Label("loop0")
		step(0, 0)
		ctx.ADDQ(a0, a)
		ctx.ADDQ(b0, b)
	}
	ctx.DECQ(counters[0])
	ctx.JNZ(operand.LabelRef("loop0"))
	// Fixed strides of the levels are summed into one ADDQ per pointer at
	// the next loop's end (levels with a count of 1 have none).
	var da, db int
	for l := 1; l <= 3; l++ {
		lf := abi.LoopFields[l]
		if v, ok := k.field(lf.A); ok {
			da += v
		} else {
			ctx.ADDQ(arg(lf.A), a)
		}
		if v, ok := k.field(lf.B); ok {
			db += v
		} else {
			ctx.ADDQ(arg(lf.B), b)
		}
		if looped(l) {
			if da != 0 {
				ctx.ADDQ(operand.I32(fits(da)), a)
			}
			if db != 0 {
				ctx.ADDQ(operand.I32(fits(db)), b)
			}
			da, db = 0, 0
			ctx.DECQ(counters[l])
			ctx.JNZ(operand.LabelRef(fmt.Sprintf("loop%d", l)))
		}
	}
	// What is left of da and db after the last loop is dropped: a and b
	// are not read after the nest.

	// Epilogue.
	c := ctx.GP64()
	var cBlock reg.Register
	cBlockImm, fixedCBlock := k.field(abi.FieldCBlock)
	if !fixedCBlock {
		cBlock = ctx.GP64()
	}
	flags := ctx.GP64()
	ctx.MOVQ(arg(abi.FieldC), c)
	if !fixedCBlock {
		ctx.MOVQ(arg(abi.FieldCBlock), cBlock)
	}
	ctx.MOVQ(arg(abi.FieldFlags), flags)
	each := func(f func(r, v int, m operand.Mem)) {
		for r := range rows {
			for v := range vecs {
				f(r, v, vecMem(c, cBlock, cBlockImm, rowC(r), v))
			}
		}
	}
	skip := func(flag int, label string) {
		ctx.TESTQ(operand.U32(flag), flags)
		ctx.JZ(operand.LabelRef(label))
	}
	skip(abi.Load, "noload")
	each(func(r, v int, m operand.Mem) { ctx.VADDPS(m, tile(r, v), tile(r, v)) })
	ctx.Label("noload")

	skip(abi.Bias, "nobias")
	ptr := ctx.GP64()
	ctx.MOVQ(arg(abi.FieldBias), ptr)
	for v := range vecs {
		ctx.VMOVUPS(operand.Mem{Base: ptr, Disp: v * vecBytes}, bv[v])
	}
	each(func(r, v int, _ operand.Mem) { ctx.VADDPS(bv[v], tile(r, v), tile(r, v)) })
	ctx.Label("nobias")

	skip(abi.Residual, "nores")
	ctx.MOVQ(arg(abi.FieldRes), ptr)
	for r := range rows {
		for v := range vecs {
			ctx.VADDPS(vecMem(ptr, cBlock, cBlockImm, rowC(r), v), tile(r, v), tile(r, v))
		}
	}
	ctx.Label("nores")

	skip(abi.ReLU, "norelu")
	ctx.VXORPS(bc, bc, bc)
	each(func(r, v int, _ operand.Mem) { ctx.VMAXPS(bc, tile(r, v), tile(r, v)) })
	ctx.Label("norelu")

	skip(abi.Stats, "nostats")
	// Bias and statistics are plain per-channel vectors: vector v of the
	// tile is channels v·Lanes onward. Each tile of a pass adds its sums
	// in turn, as one tile per pass would.
	sum, sq := bv[0], bc
	for t := 0; t < rows; t += k.rows {
		for v := range vecs {
			ctx.VMOVAPS(tile(t, v), sum)
			ctx.VMULPS(tile(t, v), tile(t, v), sq)
			for r := t + 1; r < t+k.rows; r++ {
				ctx.VADDPS(tile(r, v), sum, sum)
				ctx.VFMADD231PS(tile(r, v), tile(r, v), sq)
			}
			for i, field := range []abi.Field{abi.FieldSum, abi.FieldSq} {
				x := []reg.VecPhysical{sum, sq}[i]
				ctx.MOVQ(arg(field), ptr)
				m := operand.Mem{Base: ptr, Disp: v * vecBytes}
				ctx.VADDPS(m, x, x)
				ctx.VMOVUPS(x, m)
			}
		}
	}
	ctx.Label("nostats")

	each(func(r, v int, m operand.Mem) { ctx.VMOVUPS(tile(r, v), m) })

	// The next tile (or pass), if any: pointers in the block never pass
	// the last tile (the Go side keeps them as unsafe.Pointer).
	ctx.DECQ(arg(abi.FieldTiles))
	ctx.JZ(operand.LabelRef("done"))
	var nextC operand.Op = ptr
	if fixedTileA {
		ctx.ADDQ(operand.I32(fits(k.stack*tileA)), arg(abi.FieldA))
	} else {
		ctx.MOVQ(arg(abi.FieldTileA), ptr)
		ctx.ADDQ(ptr, arg(abi.FieldA))
	}
	if fixedTileC {
		nextC = operand.I32(fits(k.stack * tileC))
	} else {
		ctx.MOVQ(arg(abi.FieldTileC), ptr)
	}
	ctx.ADDQ(nextC, arg(abi.FieldC))
	ctx.TESTQ(operand.U32(abi.Residual), flags)
	ctx.JZ(operand.LabelRef("tile"))
	ctx.ADDQ(nextC, arg(abi.FieldRes))
	ctx.JMP(operand.LabelRef("tile"))
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
	return derr
}
