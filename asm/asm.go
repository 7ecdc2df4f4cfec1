// Package asm holds netc's avo generators: Go functions that write the
// assembly of netc's kernels. Each generator is written once and
// parameterized by ISA (AVX2+FMA with 16 ymm registers, AVX-512F with 32
// zmm), so both instruction sets come from the same code. Register plans
// are explicit data, checked when the code is generated.
package asm

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
	"github.com/mmcloughlin/avo/reg"
)

// ISA is a vector instruction set that kernels are generated for.
type ISA struct {
	Name  string // suffix of function names: "AVX2", "AVX512"
	Lanes int    // float32 values in one vector register
	Regs  int    // vector registers the ISA may use
	vecs  []reg.VecPhysical
}

// The instruction sets netc generates kernels for.
var (
	AVX2   = ISA{Name: "AVX2", Lanes: 8, Regs: 16, vecs: ymm[:16]}
	AVX512 = ISA{Name: "AVX512", Lanes: 16, Regs: 32, vecs: zmm[:]}
	ISAs   = []ISA{AVX2, AVX512}
)

var (
	ymm = [...]reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
	zmm = [...]reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
)

// Plan is a register plan: how many vector registers a kernel keeps live
// for each purpose. It must fit the ISA.
type Plan struct {
	Accumulators, Operands int
}

// Check reports whether the plan fits the ISA's vector registers.
func (p Plan) Check(isa ISA) error {
	if n := p.Accumulators + p.Operands; n > isa.Regs {
		return fmt.Errorf("asm: register plan needs %d vector registers, %s has %d", n, isa.Name, isa.Regs)
	}
	return nil
}

// begin checks a kernel's register plan and starts its NOSPLIT function;
// it returns the plan's registers: accumulators, then operands.
func begin(ctx *build.Context, isa ISA, plan Plan, name, signature, doc string) (acc, ops []reg.VecPhysical, err error) {
	if err := plan.Check(isa); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(signature)
	ctx.Doc(doc)
	return isa.vecs[:plan.Accumulators], isa.vecs[plan.Accumulators : plan.Accumulators+plan.Operands], nil
}

// Generator adds one kernel for one ISA to a build context.
type Generator func(ctx *build.Context, isa ISA) error

// Family is a group of generators written to one assembly file.
type Family struct {
	Name string // file stem: <Name>_amd64.s and <Name>_stubs_amd64.go
	Gens []Generator
}

// Runtime lists the kernel families of package runtime/kernels, the
// runtime's shape-generic kernels (its go generate writes them).
var Runtime = []Family{
	{"peak", []Generator{FMAPeak}},
	{"gemm", []Generator{GemmKernel}},
	{"conv", []Generator{ConvKernels}},
	{"norm", []Generator{NormKernels}},
}

// Generate runs every generator for every ISA into one file of the package
// named pkg and returns its assembly and its Go declarations.
func Generate(pkg string, gens ...Generator) (asm, stubs []byte, err error) {
	ctx := build.NewContext()
	ctx.ConstraintExpr("!purego")
	for _, g := range gens {
		for _, isa := range ISAs {
			if err := g(ctx, isa); err != nil {
				return nil, nil, err
			}
		}
	}
	f, err := ctx.Result()
	if err != nil {
		return nil, nil, err
	}
	if err := pass.Compile.Execute(f); err != nil {
		return nil, nil, err
	}
	cfg := printer.Config{Name: "netc asm generators (go generate)", Pkg: pkg}
	if asm, err = printer.NewGoAsm(cfg).Print(f); err != nil {
		return nil, nil, err
	}
	if stubs, err = printer.NewStubs(cfg).Print(f); err != nil {
		return nil, nil, err
	}
	return asm, stubs, nil
}
