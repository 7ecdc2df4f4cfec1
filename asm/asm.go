package asm

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
	"github.com/mmcloughlin/avo/reg"

	"github.com/netc/netc/runtime/kernels/abi"
)

// ISAs are the instruction sets netc generates kernels for.
var ISAs = []*abi.ISA{&abi.AVX2, &abi.AVX512}

var (
	ymm = [...]reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
	zmm = [...]reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
)

// vectors are the vector registers of isa: ymm for 8 lanes (only the 16
// that VEX reaches without EVEX), zmm for 16.
func vectors(isa *abi.ISA) ([]reg.VecPhysical, error) {
	var regs []reg.VecPhysical
	switch {
	case isa.Lanes == 8 && !isa.EVEX:
		regs = ymm[:]
	case isa.Lanes == 16 && isa.EVEX:
		regs = zmm[:]
	default:
		return nil, fmt.Errorf("asm: no vector registers for ISA %s (%d lanes, EVEX %v)", isa.Name, isa.Lanes, isa.EVEX)
	}
	if isa.Regs > len(regs) {
		return nil, fmt.Errorf("asm: ISA %s has %d vector registers, %d exist", isa.Name, isa.Regs, len(regs))
	}
	return regs[:isa.Regs], nil
}

// Plan is a register plan: how many vector registers a kernel keeps live
// for each purpose. It must fit the ISA.
type Plan struct {
	Accumulators, Operands int
}

// Check reports whether the plan fits the ISA's vector registers.
func (p Plan) Check(isa *abi.ISA) error {
	if n := p.Accumulators + p.Operands; n > isa.Regs {
		return fmt.Errorf("asm: register plan needs %d vector registers, %s has %d", n, isa.Name, isa.Regs)
	}
	return nil
}

// begin checks a kernel's register plan and starts its NOSPLIT function;
// it returns the plan's registers: accumulators, then operands.
func begin(ctx *build.Context, isa *abi.ISA, plan Plan, name, signature, doc string) (acc, ops []reg.VecPhysical, err error) {
	vecs, err := vectors(isa)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := plan.Check(isa); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.Pragma("noescape")
	ctx.SignatureExpr(signature)
	ctx.Doc(doc)
	return vecs[:plan.Accumulators], vecs[plan.Accumulators : plan.Accumulators+plan.Operands], nil
}

// Generator adds one kernel for one ISA to a build context.
type Generator func(ctx *build.Context, isa *abi.ISA) error

// Family is a group of generators written to one assembly file.
type Family struct {
	Name string // file stem: <Name>_amd64.s and <Name>_stubs_amd64.go
	Gens []Generator
}

// Runtime lists the kernel families of package runtime/kernels, the
// runtime's shape-generic kernels.
var Runtime = []Family{
	{"peak", []Generator{FMAPeak}},
	{"bf16", []Generator{BF16Kernels}},
	{"gemm", []Generator{GemmKernel}},
	{"conv", []Generator{ConvKernels}},
	{"norm", []Generator{NormKernels}},
}

// RuntimeFiles writes the files of package runtime/kernels (named pkg):
// for each family of Runtime its assembly and Go declarations, and
// table_amd64.go, each ISA's table of them. generatedBy names the
// command, for the files' first line. The table declares, for every ISA,
//
//	var asm<Suffix> = asmKernels{fmaPeak: fmaPeak<Suffix>, ..., outer: ...}
//
// with a field for each kernel but the outer ones, named as the kernel
// without the ISA's suffix, and outer, the outer kernels indexed by shape
// (abi.OuterShapes), tile (ISA.Tiles) and tile height−1.
func RuntimeFiles(pkg, generatedBy string) (map[string][]byte, error) {
	files := map[string][]byte{}
	fields := make([][]string, len(ISAs)) // kernels by ISA, but the outer ones
	outerNames := map[string]bool{}
	for _, isa := range ISAs {
		for _, s := range abi.OuterShapes {
			for _, t := range isa.Tiles {
				for r := 1; r <= t.MaxR; r++ {
					outerNames[OuterName(isa, s, r, t.V)] = true
				}
			}
		}
	}
	for _, fam := range Runtime {
		ctx := build.NewContext()
		ctx.ConstraintExpr("!purego")
		for _, g := range fam.Gens {
			for _, isa := range ISAs {
				if err := g(ctx, isa); err != nil {
					return nil, fmt.Errorf("%s: %w", fam.Name, err)
				}
			}
		}
		f, err := ctx.Result()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fam.Name, err)
		}
		for _, fn := range f.Functions() {
			if outerNames[fn.Name] {
				continue
			}
			for i, isa := range ISAs {
				if base, ok := strings.CutSuffix(fn.Name, isa.Suffix); ok {
					fields[i] = append(fields[i], base)
				}
			}
		}
		if err := pass.Compile.Execute(f); err != nil {
			return nil, fmt.Errorf("%s: %w", fam.Name, err)
		}
		cfg := printer.Config{Name: generatedBy, Pkg: pkg}
		if files[fam.Name+"_amd64.s"], err = printer.NewGoAsm(cfg).Print(f); err != nil {
			return nil, err
		}
		if files[fam.Name+"_stubs_amd64.go"], err = printer.NewStubs(cfg).Print(f); err != nil {
			return nil, err
		}
	}

	g := goFile(pkg, generatedBy, "!purego")
	versioned(g)
	for i, isa := range ISAs {
		d := jen.Dict{}
		for _, base := range fields[i] {
			d[jen.Id(base)] = jen.Id(base + isa.Suffix)
		}
		var shapes []jen.Code
		for _, s := range abi.OuterShapes {
			var widths []jen.Code
			for _, t := range isa.Tiles {
				var fns []jen.Code
				for r := 1; r <= t.MaxR; r++ {
					fns = append(fns, jen.Id(OuterName(isa, s, r, t.V)))
				}
				widths = append(widths, jen.Values(fns...))
			}
			shapes = append(shapes, jen.Values(widths...))
		}
		d[jen.Id("outer")] = jen.Index().Index().Index().Func().Params(jen.Op("*").Uintptr()).Values(shapes...)
		g.Commentf("asm%s are the %s kernels.", isa.Suffix, isa.Name)
		g.Var().Id("asm" + isa.Suffix).Op("=").Id("asmKernels").Values(d)
	}
	var err error
	if files["table_amd64.go"], err = render(g); err != nil {
		return nil, err
	}
	return files, nil
}
