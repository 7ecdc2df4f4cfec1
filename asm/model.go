package asm

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/dave/jennifer/jen"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
)

// Kernels specialized to a model's convolutions. The runtime's forward
// convolution (runtime/kernels) covers each row of output pixels with the
// calls of RowPlan, each call one outer kernel run over one tile per
// output row of a chunk of rows; for a given convolution most fields of
// the argument block are then the same in every call: the number of
// input channel blocks, every stride but the tap rows', the distances
// between blocks and between tiles. ModelKernels writes, for each
// convolution of a model and each ISA, outer kernels that have those
// fields as immediates, one for each tile height RowPlan uses, and, for
// short tiles, kernels that compute several tiles (of consecutive output
// rows) in one pass to keep more accumulators busy. They run exactly the
// general kernels' arithmetic, in the same order, so their results are
// bitwise the same; the runtime checks every call's argument block
// against the fields a kernel fixed.

// ConvSpec is the per-image shape of a convolution: C input channels of
// H×W pixels, K output channels, R×S taps, stride and padding (on every
// side), as in runtime/ref.Conv without the batch size.
type ConvSpec struct{ C, H, W, K, R, S, Stride, Pad int }

// P is the output height.
func (c ConvSpec) P() int { return (c.H+2*c.Pad-c.R)/c.Stride + 1 }

// Q is the output width.
func (c ConvSpec) Q() int { return (c.W+2*c.Pad-c.S)/c.Stride + 1 }

func (c ConvSpec) String() string {
	return fmt.Sprintf("C%d %dx%d K%d %dx%d/%d p%d", c.C, c.H, c.W, c.K, c.R, c.S, c.Stride, c.Pad)
}

// valid reports whether the runtime's forward convolution runs c.
func (c ConvSpec) valid() bool {
	return c.C >= 1 && c.K >= 16 && c.K%16 == 0 && c.R >= 1 && c.S >= 1 && c.Stride >= 1 && c.Stride <= 2 &&
		c.Pad >= 0 && c.Pad < c.R && c.Pad < c.S && c.H >= 1 && c.W >= 1 && c.P() >= 1 && c.Q() >= 1
}

// Specialized reports whether ModelKernels writes kernels for c: those
// with a blocked input (C a multiple of 16); a stem, on plain input, runs
// the general kernels.
func (c ConvSpec) Specialized() bool { return c.C%16 == 0 }

// ForwardFixed is the fields of the argument block that every forward
// call of c has the same, with their values (see OuterArgs and
// runtime/kernels' direct.call): the loop over input channel blocks
// (loop 1) and the step of the tap columns' loop (loop 2), the distances
// between blocks of B and of C, and between tiles.
func (c ConvSpec) ForwardFixed() map[string]int {
	plane, taps, blocks := c.H*c.W, c.R*c.S, c.C/16
	return map[string]int{
		"BBlock": 4 * 16 * c.C * taps,
		"CBlock": 4 * 16 * c.P() * c.Q(),
		// Loop 1, one input channel block per step; loop 0 (16 channels)
		// moved A 64 bytes and B 1024.
		"N1": blocks, "A1": 64*plane - 64, "B1": 1024*taps - 1024,
		// Loop 2, one tap column per step, after loop 1 ran its course.
		"A2": 64 - blocks*64*plane, "B2": 1024 - blocks*1024*taps,
		"TileA": 64 * c.Stride * c.W, "TileC": 64 * c.Q(),
	}
}

// TileCount is how many tiles of at most maxR pixels the runtime splits a
// row of n pixels into: tile j of k has (n+j)/k pixels (a 7-wide row
// becomes 3+4, not 6+1: a short tile has too few accumulators to hide
// the FMA latency).
func TileCount(n, maxR int) int { return (n + maxR - 1) / maxR }

// RowOp is one step of a forward-shaped convolution over a row of output
// pixels: an outer kernel call on pixels Ox..Ox+R−1 over tap columns
// Tx..Tx+NTx−1 with epilogue Flags, or, if NTx is 0, clearing the pixels.
type RowOp struct{ Ox, R, Tx, NTx, Flags int }

// RowPlan lists the steps that compute a row of width output pixels of a
// convolution over rows of inW input pixels with taps tap columns, a
// stride and padding pad, in tiles of at most maxR pixels, with epilogue
// flags. Tiles whose pixels all see every tap column are one call. Border
// taps add to the pixels they reach in extra calls, before the main call
// if it must apply an epilogue to the finished sums (the first of them
// then stores, and the pixels it misses are cleared), after it if not.
// It panics if a pixel sees no tap column and flags is not 0.
func RowPlan(width, inW, taps, stride, pad, maxR, flags int) []RowOp {
	var ops []RowOp
	zero := func(ox, r int) {
		if r > 0 {
			ops = append(ops, RowOp{Ox: ox, R: r})
		}
	}
	var tile func(ox, r int)
	tile = func(ox, r int) {
		ix := ox*stride - pad
		// Taps valid for every pixel of the tile, and the pixels each
		// other tap is valid for.
		txlo, txhi := max(0, -ix), min(taps, inW-(ix+(r-1)*stride))
		if txlo >= txhi {
			if r > 1 {
				tile(ox, r/2)
				tile(ox+r/2, r-r/2)
				return
			}
			if flags != 0 {
				panic("asm: an output pixel of a convolution with an epilogue sees no input")
			}
			zero(ox, 1)
			return
		}
		if txlo == 0 && txhi == taps {
			ops = append(ops, RowOp{ox, r, 0, taps, flags})
			return
		}
		store := flags != 0 // the next border call stores rather than adds
		if !store {
			ops = append(ops, RowOp{ox, r, txlo, txhi - txlo, 0})
		}
		for tx := range taps {
			if tx >= txlo && tx < txhi {
				continue
			}
			// Pixels j with 0 ≤ ix + j·stride + tx < inW.
			jlo := max(0, ceilDiv(-ix-tx, stride))
			jhi := min(r-1, floorDiv(inW-1-ix-tx, stride))
			if jlo > jhi {
				continue
			}
			f := Load
			if store {
				store, f = false, 0
				zero(ox, jlo)
				zero(ox+jhi+1, r-1-jhi)
			}
			ops = append(ops, RowOp{ox + jlo, jhi - jlo + 1, tx, 1, f})
		}
		if store {
			zero(ox, r) // no border tap reached any pixel
		}
		if flags != 0 {
			ops = append(ops, RowOp{ox, r, txlo, txhi - txlo, flags | Load})
		}
	}
	k := TileCount(width, maxR)
	ox := 0
	for j := range k {
		r := (width + j) / k
		tile(ox, r)
		ox += r
	}
	return ops
}

func ceilDiv(a, b int) int  { return -floorDiv(-a, b) }
func floorDiv(a, b int) int { return (a - ((a%b)+b)%b) / b }

// stackAccumulators is, per ISA, how many accumulators a kernel that
// computes several tiles per pass may use: the general kernels' largest
// tile.
var stackAccumulators = map[string]int{"AVX2": 12, "AVX512": 28}

// maxStack is the most tiles a pass computes: a chunk of the runtime has
// at most 8 rows.
const maxStack = 8

// specialKernels is a convolution's specialized kernels for one ISA.
type specialKernels struct {
	v, maxR int
	fixed   map[string]int
	// tiles[r-1] are the kernels of r-row tiles: [0] one tile per pass,
	// [m-1] m tiles; nil if RowPlan never uses r.
	tiles [][]kernelDecl
}

// kernelDecl is a generated function's name and documentation.
type kernelDecl struct{ name, doc string }

// special generates conv's kernels for isa into ctx, naming them from
// prefix.
func special(ctx *build.Context, isa ISA, prefix string, conv ConvSpec) (*specialKernels, error) {
	ti := OuterTileIndex(isa, conv.K)
	if ti < 0 {
		return nil, fmt.Errorf("asm: %v: no %s tile fits %d channels", conv, isa.Name, conv.K)
	}
	t := OuterTiles[isa.Name][ti]
	sk := &specialKernels{v: t.V, maxR: t.MaxR, fixed: conv.ForwardFixed(), tiles: make([][]kernelDecl, t.MaxR)}
	used := map[int]bool{}
	for _, flags := range []int{0, Bias} { // without and with an epilogue
		for _, op := range RowPlan(conv.Q(), conv.W, conv.S, conv.Stride, conv.Pad, t.MaxR, flags) {
			if op.NTx > 0 {
				used[op.R] = true
			}
		}
	}
	shape := OuterShape{Kind: Channels, ARow: 64 * conv.Stride, CRow: 64}
	for r := 1; r <= t.MaxR; r++ {
		if !used[r] {
			continue
		}
		for m := 1; m == 1 || m <= min(maxStack, conv.P()) && m*r*t.V <= stackAccumulators[isa.Name]; m++ {
			name := fmt.Sprintf("%sR%d", prefix, r)
			doc := fmt.Sprintf("%s runs the outer kernel (see package asm) of convolution %v with a %d×%d tile.", name, conv, r, t.V)
			if m > 1 {
				name = fmt.Sprintf("%sx%d", name, m)
				doc = fmt.Sprintf("%s runs the outer kernel (see package asm) of convolution %v with %d tiles of %d×%d per pass.", name, conv, m, r, t.V)
			}
			k := outerKernel{shape: shape, rows: r, vecs: t.V, stack: m, fixed: sk.fixed}
			if err := outer(ctx, isa, name, doc, k); err != nil {
				return nil, err
			}
			sk.tiles[r-1] = append(sk.tiles[r-1], kernelDecl{name, doc})
		}
	}
	return sk, nil
}

// The packages generated code uses.
const (
	kernelsPkg = "github.com/netc/netc/runtime/kernels"
	refPkg     = "github.com/netc/netc/runtime/ref"
)

// ModelKernels writes the forward kernels specialized to convs, the
// convolutions of a model, into package pkg: for AVX2 and AVX-512 and
// each distinct shape (equal specs share their kernels; a stem, on plain
// input, has none). It returns the files by name:
//
//   - kernels_amd64.s, the kernels (build constraint !purego);
//   - kernels_amd64.go, their declarations and
//     func specialized(isa kernels.ISA, i int) *kernels.Special,
//     the kernels of convs[i] for isa, or nil (a stem, the generic ISA);
//   - kernels_other.go, specialized returning nil (!amd64 or purego).
//
// Pass specialized(isa, i) to kernels.ConvForwardSpecial for convolution
// i; nil runs the general kernels. Every identifier the files declare
// starts with "special". The output depends only on pkg and convs.
func ModelKernels(pkg string, convs []ConvSpec) (map[string][]byte, error) {
	var uniq []ConvSpec
	index := make([]int, len(convs)) // index in uniq, or -1
	for i, c := range convs {
		if !c.valid() {
			return nil, fmt.Errorf("asm: convolution %d (%v) is not one the runtime runs", i, c)
		}
		index[i] = -1
		if !c.Specialized() {
			continue
		}
		if index[i] = slices.Index(uniq, c); index[i] < 0 {
			index[i] = len(uniq)
			uniq = append(uniq, c)
		}
	}

	ctx := build.NewContext()
	ctx.ConstraintExpr("!purego")
	specials := map[string][]*specialKernels{}
	for _, isa := range ISAs {
		for u, c := range uniq {
			sk, err := special(ctx, isa, fmt.Sprintf("special%d%s", u, isa.Name), c)
			if err != nil {
				return nil, err
			}
			specials[isa.Name] = append(specials[isa.Name], sk)
		}
	}
	files := map[string][]byte{}
	if len(uniq) > 0 {
		f, err := ctx.Result()
		if err != nil {
			return nil, err
		}
		if err := pass.Compile.Execute(f); err != nil {
			return nil, err
		}
		if files["kernels_amd64.s"], err = printer.NewGoAsm(printer.Config{Name: "netc", Pkg: pkg}).Print(f); err != nil {
			return nil, err
		}
	} else {
		// No assembly: an empty file keeps the set of files fixed.
		files["kernels_amd64.s"] = []byte("// Code generated by netc. DO NOT EDIT.\n\n//go:build !purego\n")
	}

	// kernels_amd64.go.
	g := jen.NewFile(pkg)
	g.HeaderComment("Code generated by netc. DO NOT EDIT.")
	g.HeaderComment("//go:build !purego")
	for _, isa := range ISAs {
		for _, sk := range specials[isa.Name] {
			for _, decls := range sk.tiles {
				for _, d := range decls {
					g.Comment(d.doc)
					g.Func().Id(d.name).Params(jen.Id("args").Op("*").Uintptr())
					g.Line()
				}
			}
		}
	}
	specializedDoc := func(f *jen.File) {
		f.Comment("specialized returns the forward kernels specialized for convolution i")
		f.Comment("(in the order given to asm.ModelKernels) on isa, or nil where there are")
		f.Comment("none (a stem, the generic ISA): kernels.ConvForwardSpecial then runs")
		f.Comment("the general kernels.")
	}
	specializedDoc(g)
	var cases []jen.Code
	for _, isa := range ISAs {
		cases = append(cases, jen.Case(jen.Qual(kernelsPkg, isa.Name)).Block(jen.Return(jen.Id("specials"+isa.Name).Index(jen.Id("i")))))
	}
	g.Func().Id("specialized").Params(jen.Id("isa").Qual(kernelsPkg, "ISA"), jen.Id("i").Int()).Op("*").Qual(kernelsPkg, "Special").Block(
		jen.Switch(jen.Id("isa")).Block(cases...),
		jen.Return(jen.Nil()),
	)
	for _, isa := range ISAs {
		var table []jen.Code
		for _, u := range index {
			if u < 0 {
				table = append(table, jen.Nil())
			} else {
				table = append(table, jen.Id(fmt.Sprintf("special%d%s", u, isa.Name)))
			}
		}
		g.Var().Id("specials"+isa.Name).Op("=").Index(jen.Op("...")).Op("*").Qual(kernelsPkg, "Special").Values(table...)
		for u, sk := range specials[isa.Name] {
			c := uniq[u]
			fields := slices.Sorted(func(yield func(int) bool) {
				for f := range sk.fixed {
					if !yield(argOffset(f) / 8) {
						return
					}
				}
			})
			var fixed []jen.Code
			for _, fi := range fields {
				fixed = append(fixed, jen.Values(jen.Dict{jen.Id("Field"): jen.Lit(fi), jen.Id("Value"): jen.Lit(sk.fixed[OuterArgs[fi]])}))
			}
			var tiles []jen.Code
			for _, decls := range sk.tiles {
				d := jen.Dict{}
				if len(decls) > 0 {
					d[jen.Id("One")] = jen.Id(decls[0].name)
				}
				if len(decls) > 1 {
					var st []jen.Code
					for _, k := range decls[1:] {
						st = append(st, jen.Id(k.name))
					}
					d[jen.Id("Stacked")] = jen.Index().Func().Params(jen.Op("*").Uintptr()).Values(st...)
				}
				tiles = append(tiles, jen.Values(d))
			}
			g.Var().Id(fmt.Sprintf("special%d%s", u, isa.Name)).Op("=").Op("&").Qual(kernelsPkg, "Special").Values(jen.Dict{
				jen.Id("ISA"): jen.Qual(kernelsPkg, isa.Name),
				jen.Id("Conv"): jen.Qual(refPkg, "Conv").Values(jen.Dict{
					jen.Id("C"): jen.Lit(c.C), jen.Id("H"): jen.Lit(c.H), jen.Id("W"): jen.Lit(c.W), jen.Id("K"): jen.Lit(c.K),
					jen.Id("R"): jen.Lit(c.R), jen.Id("S"): jen.Lit(c.S), jen.Id("Stride"): jen.Lit(c.Stride), jen.Id("Pad"): jen.Lit(c.Pad),
				}),
				jen.Id("V"):     jen.Lit(sk.v),
				jen.Id("Fixed"): jen.Index().Qual(kernelsPkg, "Fixed").Values(fixed...),
				jen.Id("Tiles"): jen.Index().Qual(kernelsPkg, "SpecialTile").Values(tiles...),
			})
		}
	}
	var err error
	if files["kernels_amd64.go"], err = render(g); err != nil {
		return nil, err
	}

	// kernels_other.go.
	o := jen.NewFile(pkg)
	o.HeaderComment("Code generated by netc. DO NOT EDIT.")
	o.HeaderComment("//go:build !amd64 || purego")
	specializedDoc(o)
	o.Func().Id("specialized").Params(jen.Qual(kernelsPkg, "ISA"), jen.Int()).Op("*").Qual(kernelsPkg, "Special").Block(jen.Return(jen.Nil()))
	if files["kernels_other.go"], err = render(o); err != nil {
		return nil, err
	}
	return files, nil
}

func render(f *jen.File) ([]byte, error) {
	var b bytes.Buffer
	if err := f.Render(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
