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
				if err := outer(ctx, isa, s, r, t.V); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func outer(ctx *build.Context, isa ISA, s OuterShape, rows, vecs int) error {
	name := OuterName(isa, s, rows, vecs)
	acc, ops, err := begin(ctx, isa, Plan{Accumulators: rows * vecs, Operands: vecs + 1}, name, "func(args *uintptr)",
		fmt.Sprintf("%s runs the outer kernel (see package asm) with a %d×%d tile.", name, rows, vecs))
	if err != nil {
		return err
	}
	bv, bc := ops[:vecs], ops[vecs]
	tile := func(r, v int) reg.VecPhysical { return acc[r*vecs+v] }
	vecBytes := 4 * isa.Lanes
	perBlock := 16 / isa.Lanes
	// vecMem is vector v of a blocked operand at base+disp, the next block
	// blockReg bytes on.
	vecMem := func(base, blockReg reg.Register, disp, v int) operand.Mem {
		m := operand.Mem{Base: base, Disp: disp + (v%perBlock)*vecBytes}
		if v/perBlock > 0 {
			m.Index, m.Scale = blockReg, 1
		}
		return m
	}
	spans := vecs > perBlock // the tile's vectors span two blocks
	if vecs > 2*perBlock {
		return fmt.Errorf("%s: %d vectors span more than two blocks", name, vecs)
	}

	p := ctx.Load(ctx.Param("args"), ctx.GP64())
	arg := func(f string) operand.Mem { return operand.Mem{Base: p, Disp: argOffset(f)} }
	ctx.Label("tile")
	a, b := ctx.GP64(), ctx.GP64()
	ctx.MOVQ(arg("A"), a)
	ctx.MOVQ(arg("B"), b)
	var bBlock reg.Register
	if spans {
		bBlock = ctx.GP64()
		ctx.MOVQ(arg("BBlock"), bBlock)
	}
	for _, v := range acc {
		ctx.VXORPS(v, v, v)
	}

	// step adds one outer product: A at a+aDisp, B at b+bDisp.
	step := func(aDisp, bDisp int) {
		for v := range vecs {
			ctx.VMOVUPS(vecMem(b, bBlock, bDisp, v), bv[v])
		}
		for r := range rows {
			ctx.VBROADCASTSS(operand.Mem{Base: a, Disp: r*s.ARow + aDisp}, bc)
			for v := range vecs {
				ctx.VFMADD231PS(bv[v], bc, tile(r, v))
			}
		}
	}

	counters := make([]reg.GPVirtual, 4)
	for l := 3; l >= 1; l-- {
		counters[l] = ctx.GP64()
		ctx.MOVQ(arg(fmt.Sprint("N", l)), counters[l])
		ctx.Label(fmt.Sprintf("loop%d", l))
	}
	counters[0] = ctx.GP64()
	switch s.Kind {
	case Channels:
		// Prefetch the rows of A the next step of loop 1 reads (the next
		// block of 16 channels, a plane away): the hardware prefetcher
		// does not follow such strides.
		next := ctx.GP64()
		ctx.MOVQ(arg("A1"), next)
		ctx.LEAQ(operand.Mem{Base: a, Index: next, Scale: 1, Disp: 64}, next)
		for r := range rows {
			ctx.PREFETCHT0(operand.Mem{Base: next, Disp: r * s.ARow})
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
	for l := 1; l <= 3; l++ {
		ctx.ADDQ(arg(fmt.Sprint("A", l)), a)
		ctx.ADDQ(arg(fmt.Sprint("B", l)), b)
		ctx.DECQ(counters[l])
		ctx.JNZ(operand.LabelRef(fmt.Sprintf("loop%d", l)))
	}

	// Epilogue.
	c, cBlock, flags := ctx.GP64(), ctx.GP64(), ctx.GP64()
	ctx.MOVQ(arg("C"), c)
	ctx.MOVQ(arg("CBlock"), cBlock)
	ctx.MOVQ(arg("Flags"), flags)
	each := func(f func(r, v int, m operand.Mem)) {
		for r := range rows {
			for v := range vecs {
				f(r, v, vecMem(c, cBlock, r*s.CRow, v))
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
			ctx.VADDPS(vecMem(ptr, cBlock, r*s.CRow, v), tile(r, v), tile(r, v))
		}
	}
	ctx.Label("nores")

	skip(ReLU, "norelu")
	ctx.VXORPS(bc, bc, bc)
	each(func(r, v int, _ operand.Mem) { ctx.VMAXPS(bc, tile(r, v), tile(r, v)) })
	ctx.Label("norelu")

	skip(Stats, "nostats")
	// Bias and statistics are plain per-channel vectors: vector v of the
	// tile is channels v·Lanes onward.
	sum, sq := bv[0], bc
	for v := range vecs {
		ctx.VMOVAPS(tile(0, v), sum)
		ctx.VMULPS(tile(0, v), tile(0, v), sq)
		for r := 1; r < rows; r++ {
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
	ctx.Label("nostats")

	each(func(r, v int, m operand.Mem) { ctx.VMOVUPS(tile(r, v), m) })

	// The next tile, if any: pointers in the block never pass the last
	// tile (the Go side keeps them as unsafe.Pointer).
	ctx.DECQ(arg("Tiles"))
	ctx.JZ(operand.LabelRef("done"))
	ctx.MOVQ(arg("TileA"), ptr)
	ctx.ADDQ(ptr, arg("A"))
	ctx.MOVQ(arg("TileC"), ptr)
	ctx.ADDQ(ptr, arg("C"))
	ctx.TESTQ(operand.U32(Residual), flags)
	ctx.JZ(operand.LabelRef("tile"))
	ctx.ADDQ(ptr, arg("Res"))
	ctx.JMP(operand.LabelRef("tile"))
	ctx.Label("done")
	ctx.VZEROUPPER()
	ctx.RET()
	return nil
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
