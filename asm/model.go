package asm

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/kernels/abi"
	"github.com/netc/netc/runtime/ref"
)

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

// Conv is c as a runtime/ref.Conv (N = 0).
func (c ConvSpec) Conv() ref.Conv {
	return ref.Conv{C: c.C, H: c.H, W: c.W, K: c.K, R: c.R, S: c.S, Stride: c.Stride, Pad: c.Pad}
}

// Ident is the Go name of the library's kernels for c (Library):
// C64H56W56K64R3S3Stride1Pad1.
func (c ConvSpec) Ident() string {
	return fmt.Sprintf("C%dH%dW%dK%dR%dS%dStride%dPad%d", c.C, c.H, c.W, c.K, c.R, c.S, c.Stride, c.Pad)
}

// valid reports whether the runtime's forward convolution runs c.
func (c ConvSpec) valid() bool {
	return c.C >= 1 && c.K >= 16 && c.K%16 == 0 && c.R >= 1 && c.S >= 1 && c.Stride >= 1 && c.Stride <= 2 &&
		c.Pad >= 0 && c.Pad < c.R && c.Pad < c.S && c.H >= 1 && c.W >= 1 && c.P() >= 1 && c.Q() >= 1
}

// Specialized reports whether c gets specialized kernels: those with a
// blocked input (C a multiple of 16); a stem, on plain input, runs the
// general kernels.
func (c ConvSpec) Specialized() bool { return c.C%16 == 0 }

// ModelConvs lists the distinct convolution shapes of g in order of
// first use, and each conv node's index among them (by node ID).
func ModelConvs(g *compiler.Graph) (shapes []ConvSpec, index map[int]int) {
	index = map[int]int{}
	for _, nd := range g.Nodes {
		if nd.Op != compiler.Conv {
			continue
		}
		in := nd.In[0]
		c := ConvSpec{C: in.C, H: in.H, W: in.W, K: nd.C, R: nd.Kernel, S: nd.Kernel, Stride: nd.Stride, Pad: nd.Pad}
		i := slices.Index(shapes, c)
		if i < 0 {
			i = len(shapes)
			shapes = append(shapes, c)
		}
		index[nd.ID] = i
	}
	return shapes, index
}

// ForwardFixed is the fields of the argument block that every forward
// call of c has the same, with their values (see runtime/kernels'
// direct.call): the loop over input channel blocks (loop 1) and the step
// of the tap columns' loop (loop 2), the distances between blocks of B
// and of C, and between tiles.
func (c ConvSpec) ForwardFixed() map[abi.Field]int {
	plane, taps, blocks := c.H*c.W, c.R*c.S, c.C/16
	return map[abi.Field]int{
		abi.FieldBBlock: 4 * 16 * c.C * taps,
		abi.FieldCBlock: 4 * 16 * c.P() * c.Q(),
		// Loop 1, one input channel block per step; loop 0 (16 channels)
		// moved A 64 bytes and B 1024.
		abi.FieldN1: blocks, abi.FieldA1: 64*plane - 64, abi.FieldB1: 1024*taps - 1024,
		// Loop 2, one tap column per step, after loop 1 ran its course.
		abi.FieldA2: 64 - blocks*64*plane, abi.FieldB2: 1024 - blocks*1024*taps,
		abi.FieldTileA: 64 * c.Stride * c.W, abi.FieldTileC: 64 * c.Q(),
	}
}

// maxStack is the most tiles a pass computes: a chunk of the runtime has
// at most 8 rows.
const maxStack = 8

// specialKernels is a convolution's specialized kernels for one ISA.
type specialKernels struct {
	v, maxR int
	fixed   map[abi.Field]int
	// tiles[r-1] are the kernels of r-row tiles: [0] one tile per pass,
	// [m-1] m tiles; nil if RowPlan never uses r.
	tiles [][]kernelDecl
}

// kernelDecl is a generated function's name and documentation.
type kernelDecl struct{ name, doc string }

// special generates conv's kernels for isa into ctx, naming them from
// prefix.
func special(ctx *build.Context, isa *abi.ISA, prefix string, conv ConvSpec) (*specialKernels, error) {
	ti := isa.TileIndex(conv.K)
	if ti < 0 {
		return nil, fmt.Errorf("asm: %v: no %s tile fits %d channels", conv, isa.Name, conv.K)
	}
	t := isa.Tiles[ti]
	sk := &specialKernels{v: t.V, maxR: t.MaxR, fixed: conv.ForwardFixed(), tiles: make([][]kernelDecl, t.MaxR)}
	used := map[int]bool{}
	for _, flags := range []int{0, abi.Bias} { // without and with an epilogue
		for _, op := range abi.RowPlan(conv.Q(), conv.W, conv.S, conv.Stride, conv.Pad, t.MaxR, flags) {
			if op.NTx > 0 {
				used[op.R] = true
			}
		}
	}
	shape := abi.OuterShape{Kind: abi.Channels, ARow: 64 * conv.Stride, CRow: 64}
	for r := 1; r <= t.MaxR; r++ {
		if !used[r] {
			continue
		}
		for m := 1; m == 1 || m <= min(maxStack, conv.P()) && m*r*t.V <= isa.MaxAccumulators(); m++ {
			name := fmt.Sprintf("%sR%d", prefix, r)
			doc := fmt.Sprintf("%s runs the outer kernel (see package abi) of convolution %v with a %d×%d tile.", name, conv, r, t.V)
			if m > 1 {
				name = fmt.Sprintf("%sx%d", name, m)
				doc = fmt.Sprintf("%s runs the outer kernel (see package abi) of convolution %v with %d tiles of %d×%d per pass.", name, conv, m, r, t.V)
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
	abiPkg     = "github.com/netc/netc/runtime/kernels/abi"
	kernelsPkg = "github.com/netc/netc/runtime/kernels"
	refPkg     = "github.com/netc/netc/runtime/ref"
	// LibraryPkg is the library of specialized kernels (Library).
	LibraryPkg = "github.com/netc/netc/runtime/kernels/special"
)

// Warning is the first line of a file generated by the command
// generatedBy.
func Warning(generatedBy string) string {
	return fmt.Sprintf("Code generated by %s. DO NOT EDIT.", generatedBy)
}

// specialSet is the specialized kernels of distinct shapes, for every
// ISA, as one assembly file and the Go declarations of its functions.
type specialSet struct {
	shapes []ConvSpec
	asm    []byte
	byISA  [][]*specialKernels // [ISA][shape]
}

// specials generates the kernels of shapes (distinct, all Specialized)
// for every ISA into one assembly file of package pkg, the functions of
// shape u named from prefix(u). An empty list makes an assembly file
// with no functions.
func specials(pkg, generatedBy string, shapes []ConvSpec, prefix func(u int) string) (*specialSet, error) {
	ctx := build.NewContext()
	ctx.ConstraintExpr("!purego")
	set := &specialSet{shapes: shapes}
	for _, isa := range ISAs {
		var sks []*specialKernels
		for u, c := range shapes {
			sk, err := special(ctx, isa, prefix(u)+isa.Suffix, c)
			if err != nil {
				return nil, err
			}
			sks = append(sks, sk)
		}
		set.byISA = append(set.byISA, sks)
	}
	if len(shapes) == 0 {
		// No assembly: an empty file keeps the set of files fixed.
		set.asm = []byte("// " + Warning(generatedBy) + "\n\n//go:build !purego\n")
		return set, nil
	}
	f, err := ctx.Result()
	if err != nil {
		return nil, err
	}
	if err := pass.Compile.Execute(f); err != nil {
		return nil, err
	}
	if set.asm, err = printer.NewGoAsm(printer.Config{Name: generatedBy, Pkg: pkg}).Print(f); err != nil {
		return nil, err
	}
	return set, nil
}

// declare writes into g the Go declarations of the set's functions and,
// for each shape u, the value of its kernels.Specials (for the variable
// name(u)).
func (set *specialSet) declare(g *jen.File) []jen.Code {
	for i := range ISAs {
		for _, sk := range set.byISA[i] {
			for _, decls := range sk.tiles {
				for _, d := range decls {
					g.Comment(d.doc)
					g.Comment("//go:noescape")
					g.Func().Id(d.name).Params(jen.Id("args").Op("*").Uintptr())
					g.Line()
				}
			}
		}
	}
	var values []jen.Code
	for u, c := range set.shapes {
		var perISA []jen.Code
		for i, isa := range ISAs {
			perISA = append(perISA, set.byISA[i][u].value(isa, c))
		}
		values = append(values, jen.Qual(kernelsPkg, "Specials").Values(perISA...))
	}
	return values
}

// value is the kernels.Special of sk, for convolution c on isa, as an
// element of a kernels.Specials literal.
func (sk *specialKernels) value(isa *abi.ISA, c ConvSpec) jen.Code {
	fields := slices.Collect(maps.Keys(sk.fixed))
	slices.SortFunc(fields, func(a, b abi.Field) int { return cmp.Compare(a.Offset(), b.Offset()) })
	var fixed []jen.Code
	for _, f := range fields {
		fixed = append(fixed, jen.Values(jen.Id("Field").Op(":").Qual(abiPkg, "Field"+f.String()), jen.Id("Value").Op(":").Lit(sk.fixed[f])))
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
	return jen.Values(jen.Dict{
		jen.Id("ISA"):   jen.Qual(kernelsPkg, isa.Suffix),
		jen.Id("Conv"):  refConv(c),
		jen.Id("V"):     jen.Lit(sk.v),
		jen.Id("Fixed"): jen.Index().Qual(kernelsPkg, "Fixed").Add(lines(fixed)),
		jen.Id("Tiles"): jen.Index().Qual(kernelsPkg, "SpecialTile").Values(tiles...),
	})
}

// refConv is c as a runtime/ref.Conv literal, on one line.
func refConv(c ConvSpec) *jen.Statement { return jen.Qual(refPkg, "Conv").Add(convFields(c)) }

// convFields is the braces of a ref.Conv literal of c.
func convFields(c ConvSpec) *jen.Statement {
	field := func(name string, v int) jen.Code { return jen.Id(name).Op(":").Lit(v) }
	return jen.Values(field("C", c.C), field("H", c.H), field("W", c.W), field("K", c.K),
		field("R", c.R), field("S", c.S), field("Stride", c.Stride), field("Pad", c.Pad))
}

// goFile starts a Go file of package pkg with the warning and a build
// constraint.
func goFile(pkg, generatedBy, constraint string) *jen.File {
	g := jen.NewFile(pkg)
	g.HeaderComment(Warning(generatedBy))
	g.HeaderComment("//go:build " + constraint)
	return g
}

// versioned declares that g's code was written for this version of the
// kernel ABI: it fails to compile against another.
func versioned(g *jen.File) {
	name := fmt.Sprintf("Version%d", abi.Version)
	g.Commentf("The kernels follow version %d of the kernel ABI.", abi.Version)
	g.Var().Id("_").Op("=").Qual(abiPkg, name)
}

// distinct checks convs and lists the distinct Specialized ones.
func distinct(convs []ConvSpec) ([]ConvSpec, error) {
	var uniq []ConvSpec
	for i, c := range convs {
		if !c.valid() {
			return nil, fmt.Errorf("asm: convolution %d (%v) is not one the runtime runs", i, c)
		}
		if c.Specialized() && !slices.Contains(uniq, c) {
			uniq = append(uniq, c)
		}
	}
	return uniq, nil
}

// ModelKernels writes the forward kernels specialized to convs, the
// convolutions of a model, into package pkg, for AVX2 and AVX-512 and
// each distinct shape the library lacks (inLibrary reports which it has:
// the model refers to those; equal specs share their kernels; a stem, on
// plain input, has none). generatedBy names the command, for the files'
// first line. It returns the files by name:
//
//   - kernels_amd64.s, the kernels (build constraint !purego);
//   - kernels_amd64.go, their declarations and
//     func specialized(isa kernels.ISA, i int) *kernels.Special,
//     the kernels of convs[i] for isa, or nil (a stem, the generic ISA);
//   - kernels_other.go, specialized returning nil (!amd64 or purego).
//
// Pass specialized(isa, i) to kernels.ConvForwardSpecial for convolution
// i; nil runs the general kernels. Every identifier the files declare
// starts with "special". The output depends only on its arguments.
func ModelKernels(pkg, generatedBy string, convs []ConvSpec, inLibrary func(ConvSpec) bool) (map[string][]byte, error) {
	uniq, err := distinct(convs)
	if err != nil {
		return nil, err
	}
	var local []ConvSpec
	for _, c := range uniq {
		if !inLibrary(c) {
			local = append(local, c)
		}
	}
	set, err := specials(pkg, generatedBy, local, func(u int) string { return fmt.Sprint("special", u) })
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"kernels_amd64.s": set.asm}

	// kernels_amd64.go.
	g := goFile(pkg, generatedBy, "!purego")
	if len(local) > 0 {
		versioned(g)
	}
	values := set.declare(g)
	specializedDoc := func(f *jen.File) {
		f.Comment("specialized returns the forward kernels specialized for convolution i")
		f.Comment("(in the order given to asm.ModelKernels) on isa, or nil where there are")
		f.Comment("none (a stem, the generic ISA): kernels.ConvForwardSpecial then runs")
		f.Comment("the general kernels.")
	}
	specializedDoc(g)
	g.Func().Id("specialized").Params(jen.Id("isa").Qual(kernelsPkg, "ISA"), jen.Id("i").Int()).Op("*").Qual(kernelsPkg, "Special").Block(
		jen.Return(jen.Id("specials").Index(jen.Id("i")).Dot("For").Call(jen.Id("isa"))),
	)
	var table []jen.Code
	for _, c := range convs {
		switch {
		case !c.Specialized():
			table = append(table, jen.Nil())
		case inLibrary(c):
			table = append(table, jen.Qual(LibraryPkg, c.Ident()))
		default:
			table = append(table, jen.Id(fmt.Sprint("special", slices.Index(local, c))))
		}
	}
	g.Comment("specials are the kernels of each convolution: the library's (package special) or this package's.")
	g.Var().Id("specials").Op("=").Index(jen.Op("...")).Qual(kernelsPkg, "Specials").Add(lines(table))
	for u, c := range local {
		g.Commentf("special%d are the kernels of convolution %v.", u, c)
		g.Var().Id(fmt.Sprint("special", u)).Op("=").Add(values[u])
	}
	if files["kernels_amd64.go"], err = render(g); err != nil {
		return nil, err
	}

	// kernels_other.go.
	o := goFile(pkg, generatedBy, "!amd64 || purego")
	specializedDoc(o)
	o.Func().Id("specialized").Params(jen.Qual(kernelsPkg, "ISA"), jen.Int()).Op("*").Qual(kernelsPkg, "Special").Block(jen.Return(jen.Nil()))
	if files["kernels_other.go"], err = render(o); err != nil {
		return nil, err
	}
	return files, nil
}

// Library writes the library of specialized kernels, package pkg (at
// LibraryPkg), for the distinct Specialized shapes of convs, as the
// files
//
//   - kernels_amd64.s, the kernels (build constraint !purego);
//   - kernels_amd64.go, their declarations, for each shape c a variable
//     c.Ident() of type kernels.Specials, and byShape, the same in the
//     order of shapes;
//   - kernels_other.go, byShape empty (!amd64 or purego);
//   - shapes.go, shapes: the shapes as runtime/ref.Conv (N = 0).
//
// generatedBy names the command, for the files' first line.
func Library(pkg, generatedBy string, convs []ConvSpec) (map[string][]byte, error) {
	uniq, err := distinct(convs)
	if err != nil {
		return nil, err
	}
	set, err := specials(pkg, generatedBy, uniq, func(u int) string {
		id := uniq[u].Ident()
		return strings.ToLower(id[:1]) + id[1:]
	})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"kernels_amd64.s": set.asm}

	g := goFile(pkg, generatedBy, "!purego")
	versioned(g)
	values := set.declare(g)
	var table []jen.Code
	for u, c := range uniq {
		g.Commentf("%s are the kernels of convolution %v.", c.Ident(), c)
		g.Var().Id(c.Ident()).Op("=").Add(values[u])
		table = append(table, jen.Id(c.Ident()))
	}
	g.Comment("byShape are the kernels of each shape of shapes.")
	g.Var().Id("byShape").Op("=").Index(jen.Op("...")).Qual(kernelsPkg, "Specials").Add(lines(table))
	if files["kernels_amd64.go"], err = render(g); err != nil {
		return nil, err
	}

	o := goFile(pkg, generatedBy, "!amd64 || purego")
	o.Comment("byShape is empty without assembly.")
	o.Var().Id("byShape").Index().Qual(kernelsPkg, "Specials")
	if files["kernels_other.go"], err = render(o); err != nil {
		return nil, err
	}

	s := jen.NewFile(pkg)
	s.HeaderComment(Warning(generatedBy))
	s.Comment("shapes are the convolutions the library has kernels for, in the order of byShape.")
	var list []jen.Code
	for _, c := range uniq {
		list = append(list, convFields(c))
	}
	s.Var().Id("shapes").Op("=").Index().Qual(refPkg, "Conv").Add(lines(list))
	if files["shapes.go"], err = render(s); err != nil {
		return nil, err
	}
	return files, nil
}

// lines is the braces of a composite literal with one element a line.
func lines(elems []jen.Code) *jen.Statement {
	return jen.ValuesFunc(func(g *jen.Group) {
		for _, e := range elems {
			g.Line().Add(e)
		}
		g.Line()
	})
}

func render(f *jen.File) ([]byte, error) {
	var b bytes.Buffer
	if err := f.Render(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
