package asm

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The convolutions of netc (forward, data gradient, weight gradient, and
// the stem on plain NCHW input) are all one micro-kernel, the outer
// kernel: it keeps an R×V tile of C in registers, R rows of V vectors,
// and adds to it, step by step, the outer product of R values of A (each
// broadcast to a vector) and V vectors of B:
//
//	C[r][v] += A[r·ARow] · B[v]   for every step of four nested loops
//
// after which A and B move on by run-time strides. The meaning of rows and
// steps is up to the caller: for a forward convolution on NCHW16c tensors
// the rows are R output pixels (A = input pixels, ARow = 64 bytes, one
// pixel of 16 channels), the V vectors are 8 or 16 output channels of a
// blocked weight tensor, and the steps run over input channels and kernel
// taps; for the weight gradient the rows are 16 input channels (ARow = 4
// bytes) and the steps run over output pixels.
//
// Vectors of B, C and the residual come from 16-channel blocks: vector v
// lies in block v/(16/Lanes) at offset v%(16/Lanes) vectors; consecutive
// blocks are BBlock (for B) or CBlock (for C and the residual) bytes
// apart.

// OuterKind is how the innermost loop of an outer kernel steps.
type OuterKind int

const (
	// Channels: the innermost loop runs 16 steps, fully unrolled in groups
	// of ChannelUnroll, over the 16 channels of a block: A moves on 4 bytes
	// (one float) and B 64 bytes (a row of 16) per step.
	Channels OuterKind = iota
	// Pixels: the innermost loop runs N0 steps with run-time strides A0
	// and B0 bytes.
	Pixels
)

// ChannelUnroll is how many steps of a Channels loop are unrolled.
const ChannelUnroll = 4

// OuterShape is a compile-time shape of an outer kernel: its kind and the
// byte distances between consecutive rows of A and of C.
type OuterShape struct {
	Kind       OuterKind
	ARow, CRow int
}

// OuterShapes are the outer kernels the runtime uses.
var OuterShapes = []OuterShape{
	{Channels, 64, 64},  // forward, stride 1; data gradient, stride 1
	{Channels, 128, 64}, // forward, stride 2
	{Channels, 64, 128}, // data gradient of stride 2, one phase
	{Pixels, 4, 64},     // weight gradient (rows are channels or stem taps)
	{Pixels, 8, 64},     // stem forward, stride 2 (stride 1 uses ARow 4)
}

// OuterTiles lists, per ISA, the tile widths V (vectors) and for each the
// largest tile height R; every R from 1 up is generated.
var OuterTiles = map[string][]struct{ V, MaxR int }{
	"AVX2":   {{2, 6}},           // 12 ymm accumulators, 2 B vectors, 1 broadcast
	"AVX512": {{1, 16}, {2, 14}}, // up to 28 zmm accumulators
}

// OuterArgs lists the fields of the outer kernels' argument block, each 8
// bytes, in order. Field i is at byte 8·i. A kernel runs Tiles tiles
// (at least one) one after the other, each with the same B, Bias, Sum
// and Sq, A moving on TileA bytes and C and Res TileC bytes per tile; it
// leaves A, C and Res at the last tile and Tiles at zero.
var OuterArgs = []string{
	"A", "B", "C", "BBlock", "CBlock",
	"N0", "A0", "B0", "N1", "A1", "B1", "N2", "A2", "B2", "N3", "A3", "B3",
	"Flags", "Bias", "Res", "Sum", "Sq",
	"Tiles", "TileA", "TileC",
}

// Flags of an outer kernel's epilogue, applied in this order after the
// loops: Load adds the tile's old value in C, Bias adds a vector per
// channel (Bias), Residual adds a tensor laid out as C (Res), ReLU clamps
// at zero, Stats adds the tile's per-channel sum and sum of squares to
// the vectors at Sum and Sq. The tile is then stored to C. Bias, Sum and
// Sq point at the tile's first channel of plain per-channel vectors.
const (
	Load = 1 << iota
	Bias
	Residual
	ReLU
	Stats
)

func argOffset(name string) int {
	for i, f := range OuterArgs {
		if f == name {
			return 8 * i
		}
	}
	panic("asm: no outer argument " + name)
}

// OuterName is the name of the outer kernel of a shape and tile.
func OuterName(isa ISA, s OuterShape, r, v int) string {
	k := "C"
	if s.Kind == Pixels {
		k = "P"
	}
	return fmt.Sprintf("outer%s%s%dx%dR%dV%d", isa.Name, k, s.ARow, s.CRow, r, v)
}

// ConvKernels generates every outer kernel of OuterShapes and OuterTiles
// for isa, each a func(args *uintptr) taking the argument block.
func ConvKernels(ctx *build.Context, isa ISA) error {
	for _, s := range OuterShapes {
		for _, t := range OuterTiles[isa.Name] {
			for r := 1; r <= t.MaxR; r++ {
				name := OuterName(isa, s, r, t.V)
				k := outerKernel{shape: s, rows: r, vecs: t.V, stack: 1}
				if err := outer(ctx, isa, name, fmt.Sprintf("%s runs the outer kernel (see package asm) with a %d×%d tile.", name, r, t.V), k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// OuterTileIndex is the index in OuterTiles[isa.Name] of the tile the
// runtime uses for k channels: the widest whose channels (V·Lanes)
// divide k; -1 if none does.
func OuterTileIndex(isa ISA, k int) int {
	best := -1
	for i, t := range OuterTiles[isa.Name] {
		if c := t.V * isa.Lanes; k%c == 0 && (best < 0 || c > OuterTiles[isa.Name][best].V*isa.Lanes) {
			best = i
		}
	}
	return best
}

// outerKernel is what one outer kernel computes. The general kernels
// read every loop count, stride and block distance from the argument
// block; a specialized kernel (ModelKernels) has some of those fields
// fixed at generation time and uses them as immediates, and may compute
// several tiles per pass.
type outerKernel struct {
	shape      OuterShape
	rows, vecs int
	// stack is how many tiles, TileA and TileC bytes apart (both fixed),
	// one pass keeps in registers: stack·rows rows.
	stack int
	// fixed are fields of the argument block (OuterArgs) with their
	// values: the kernel uses these values and never reads the fields.
	fixed map[string]int
}

// field is an argument field the kernel has as an immediate.
func (k outerKernel) field(name string) (int, bool) {
	v, ok := k.fixed[name]
	return v, ok
}

func outer(ctx *build.Context, isa ISA, name, doc string, k outerKernel) error {
	s, vecs := k.shape, k.vecs
	rows := k.rows * k.stack // rows of the registers: k.stack tiles of k.rows
	tileA, fixedTileA := k.field("TileA")
	tileC, fixedTileC := k.field("TileC")
	if k.stack > 1 && !(fixedTileA && fixedTileC) {
		return fmt.Errorf("%s: %d tiles per pass need TileA and TileC fixed", name, k.stack)
	}
	if k.stack < 1 || k.fixed != nil && s.Kind != Channels {
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
	arg := func(f string) operand.Mem { return operand.Mem{Base: p, Disp: argOffset(f)} }
	// load is an argument field: its immediate if fixed, else the field.
	load := func(f string) operand.Op {
		if v, ok := k.field(f); ok {
			return operand.I32(fits(v))
		}
		return arg(f)
	}
	ctx.Label("tile")
	a, b := ctx.GP64(), ctx.GP64()
	ctx.MOVQ(arg("A"), a)
	ctx.MOVQ(arg("B"), b)
	var bBlock reg.Register
	bBlockImm, fixedBBlock := k.field("BBlock")
	if spans && !fixedBBlock {
		bBlock = ctx.GP64()
		ctx.MOVQ(arg("BBlock"), bBlock)
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
		n, ok := k.field(fmt.Sprint("N", l))
		return !ok || n != 1
	}
	counters := make([]reg.GPVirtual, 4)
	for l := 3; l >= 1; l-- {
		if !looped(l) {
			continue
		}
		counters[l] = ctx.GP64()
		ctx.MOVQ(load(fmt.Sprint("N", l)), counters[l])
		ctx.Label(fmt.Sprintf("loop%d", l))
	}
	counters[0] = ctx.GP64()
	switch s.Kind {
	case Channels:
		// Prefetch the rows of A the next step of loop 1 reads (the next
		// block of 16 channels, a plane away): the hardware prefetcher
		// does not follow such strides.
		if a1, ok := k.field("A1"); ok {
			for r := range rows {
				ctx.PREFETCHT0(operand.Mem{Base: a, Disp: fits(a1 + 64 + rowA(r))})
			}
		} else {
			next := ctx.GP64()
			ctx.MOVQ(arg("A1"), next)
			ctx.LEAQ(operand.Mem{Base: a, Index: next, Scale: 1, Disp: 64}, next)
			for r := range rows {
				ctx.PREFETCHT0(operand.Mem{Base: next, Disp: rowA(r)})
			}
		}
		ctx.MOVQ(operand.U32(16/ChannelUnroll), counters[0])
		ctx.Label("loop0")
		for u := range ChannelUnroll {
			step(4*u, 64*u)
		}
		ctx.ADDQ(operand.U32(4*ChannelUnroll), a)
		ctx.ADDQ(operand.U32(64*ChannelUnroll), b)
	case Pixels:
		a0, b0 := ctx.GP64(), ctx.GP64()
		ctx.MOVQ(arg("A0"), a0)
		ctx.MOVQ(arg("B0"), b0)
		ctx.MOVQ(arg("N0"), counters[0])
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
		if v, ok := k.field(fmt.Sprint("A", l)); ok {
			da += v
		} else {
			ctx.ADDQ(arg(fmt.Sprint("A", l)), a)
		}
		if v, ok := k.field(fmt.Sprint("B", l)); ok {
			db += v
		} else {
			ctx.ADDQ(arg(fmt.Sprint("B", l)), b)
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
	cBlockImm, fixedCBlock := k.field("CBlock")
	if !fixedCBlock {
		cBlock = ctx.GP64()
	}
	flags := ctx.GP64()
	ctx.MOVQ(arg("C"), c)
	if !fixedCBlock {
		ctx.MOVQ(arg("CBlock"), cBlock)
	}
	ctx.MOVQ(arg("Flags"), flags)
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
	skip(Load, "noload")
	each(func(r, v int, m operand.Mem) { ctx.VADDPS(m, tile(r, v), tile(r, v)) })
	ctx.Label("noload")

	skip(Bias, "nobias")
	ptr := ctx.GP64()
	ctx.MOVQ(arg("Bias"), ptr)
	for v := range vecs {
		ctx.VMOVUPS(operand.Mem{Base: ptr, Disp: v * vecBytes}, bv[v])
	}
	each(func(r, v int, _ operand.Mem) { ctx.VADDPS(bv[v], tile(r, v), tile(r, v)) })
	ctx.Label("nobias")

	skip(Residual, "nores")
	ctx.MOVQ(arg("Res"), ptr)
	for r := range rows {
		for v := range vecs {
			ctx.VADDPS(vecMem(ptr, cBlock, cBlockImm, rowC(r), v), tile(r, v), tile(r, v))
		}
	}
	ctx.Label("nores")

	skip(ReLU, "norelu")
	ctx.VXORPS(bc, bc, bc)
	each(func(r, v int, _ operand.Mem) { ctx.VMAXPS(bc, tile(r, v), tile(r, v)) })
	ctx.Label("norelu")

	skip(Stats, "nostats")
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
			for i, field := range []string{"Sum", "Sq"} {
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
	ctx.DECQ(arg("Tiles"))
	ctx.JZ(operand.LabelRef("done"))
	var nextC operand.Op = ptr
	if fixedTileA {
		ctx.ADDQ(operand.I32(fits(k.stack*tileA)), arg("A"))
	} else {
		ctx.MOVQ(arg("TileA"), ptr)
		ctx.ADDQ(ptr, arg("A"))
	}
	if fixedTileC {
		nextC = operand.I32(fits(k.stack * tileC))
	} else {
		ctx.MOVQ(arg("TileC"), ptr)
	}
	ctx.ADDQ(nextC, arg("C"))
	ctx.TESTQ(operand.U32(Residual), flags)
	ctx.JZ(operand.LabelRef("tile"))
	ctx.ADDQ(nextC, arg("Res"))
	ctx.JMP(operand.LabelRef("tile"))
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
	return derr
}

// OuterTable returns Go source for package pkg declaring
//
//	var outerKernels = map[ISA][][][]func(*uintptr){...}
//
// indexed by ISA ("avx2", "avx512"), by shape (OuterShapes), by tile
// width (OuterTiles) and by tile height minus one.
func OuterTable(pkg string) ([]byte, error) {
	f := jen.NewFile(pkg)
	f.HeaderComment("Code generated by netc asm generators (go generate). DO NOT EDIT.")
	f.HeaderComment("//go:build !purego")
	byISA := jen.Dict{}
	for _, isa := range ISAs {
		var shapes []jen.Code
		for _, s := range OuterShapes {
			var widths []jen.Code
			for _, t := range OuterTiles[isa.Name] {
				var fns []jen.Code
				for r := 1; r <= t.MaxR; r++ {
					fns = append(fns, jen.Id(OuterName(isa, s, r, t.V)))
				}
				widths = append(widths, jen.Values(fns...))
			}
			shapes = append(shapes, jen.Values(widths...))
		}
		byISA[jen.Lit(strings.ToLower(isa.Name))] = jen.Values(shapes...)
	}
	f.Comment("outerKernels are the outer kernels by ISA, shape (asm.OuterShapes), tile width (asm.OuterTiles) and tile height−1.")
	f.Var().Id("outerKernels").Op("=").Map(jen.Id("ISA")).Index().Index().Index().Func().Params(jen.Op("*").Uintptr()).Values(byISA)
	var b bytes.Buffer
	if err := f.Render(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
