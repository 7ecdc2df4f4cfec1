package codegen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/spec"
)

const (
	layersPath  = "github.com/netc/netc/runtime/layers"
	nnPath      = "github.com/netc/netc/runtime/nn"
	kernelsPath = "github.com/netc/netc/runtime/kernels"
	specPath    = "github.com/netc/netc/spec"
)

// field is the Go field of a layer: its name inside its block (or the
// network) in CamelCase, "downsample.0" -> Downsample0.
func field(nd *compiler.Node) string {
	name := nd.Name
	if b := blockOf(nd); b != "" {
		name = strings.TrimPrefix(name, b+".")
	}
	var s strings.Builder
	for _, part := range strings.Split(name, ".") {
		s.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return s.String()
}

// stageField is the Params field of a block's stage: "layer3.17" -> Layer3.
func stageField(block string) string {
	st, _, _ := strings.Cut(block, ".")
	return strings.ToUpper(st[:1]) + st[1:]
}

func blockIndex(block string) int {
	var st, i int
	fmt.Sscanf(block, "layer%d.%d", &st, &i)
	return i
}

// layerPath is the Go expression of node nd's layer: b.Conv1 inside a
// block function, m.P.Conv1 at top level.
func layerPath(nd *compiler.Node, inBlock bool) *jen.Statement {
	if inBlock && blockOf(nd) != "" {
		return jen.Id("b").Dot(field(nd))
	}
	return jen.Id("m").Dot("P").Dot(field(nd))
}

// segment is a run of calls: top-level calls (blocks empty), or the
// calls of consecutive blocks of one stage that are the same but for
// their buffers' offsets, which a table holds, a row per block.
type segment struct {
	calls  []*call  // the first block's (or the top-level calls)
	blocks []string // block names
	slots  [][]*buf // per block, its buffers in order of first use
	sig    string   // the first block's signature
}

// slotsOf lists the arena buffers of calls in order of first use.
func slotsOf(calls []*call) []*buf {
	var s []*buf
	seen := map[*buf]bool{}
	for _, c := range calls {
		for _, a := range c.args {
			if a.buf != nil && a.buf.ext == "" && !seen[a.buf] {
				seen[a.buf] = true
				s = append(s, a.buf)
			}
		}
	}
	return s
}

// signature describes calls up to their buffers' offsets.
func signature(calls []*call) string {
	slot := map[*buf]int{}
	for i, b := range slotsOf(calls) {
		slot[b] = i
	}
	var s strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&s, "%s.", c.self)
		if c.recv != nil {
			fmt.Fprintf(&s, "%s.", field(c.recv))
		}
		s.WriteString(c.method)
		for _, a := range c.args {
			switch {
			case a.buf != nil && a.buf.ext != "":
				s.WriteString(" " + a.buf.ext)
			case a.buf != nil:
				fmt.Fprintf(&s, " $%d:%d", slot[a.buf], a.buf.size)
			case a.node != nil:
				s.WriteString(" &" + field(a.node))
			case a.src != "":
				s.WriteString(" " + a.src)
			default:
				fmt.Fprintf(&s, " %v", a.lit)
			}
		}
		s.WriteString(";")
	}
	return s.String()
}

// segments splits a call list into top-level calls and runs of blocks.
func segments(calls []*call) []*segment {
	var segs []*segment
	for i := 0; i < len(calls); {
		c := calls[i]
		if c.block == "" {
			segs = append(segs, &segment{calls: []*call{c}})
			i++
			continue
		}
		j := i
		for j < len(calls) && calls[j].block == c.block {
			j++
		}
		blk := calls[i:j]
		sig := signature(blk)
		if last := lastSeg(segs); last != nil && last.sig == sig && stageField(last.blocks[0]) == stageField(c.block) {
			last.blocks = append(last.blocks, c.block)
			last.slots = append(last.slots, slotsOf(blk))
		} else {
			segs = append(segs, &segment{calls: blk, blocks: []string{c.block}, slots: [][]*buf{slotsOf(blk)}, sig: sig})
		}
		i = j
	}
	return segs
}

func lastSeg(segs []*segment) *segment {
	if len(segs) == 0 || segs[len(segs)-1].blocks == nil {
		return nil
	}
	return segs[len(segs)-1]
}

// render writes a call, inside a block function (b the block) or at top
// level; slot maps a buffer to its column in the block table, or is nil
// for constant offsets.
func render(c *call, inBlock bool, slot map[*buf]int) jen.Code {
	args := []jen.Code{}
	if c.method != "copy" {
		args = append(args, jen.Id("p"))
	}
	for _, a := range c.args {
		switch {
		case a.buf != nil && a.buf.ext != "":
			args = append(args, jen.Id(a.buf.ext))
		case a.buf != nil:
			off := jen.Lit(a.buf.off)
			if slot != nil {
				off = jen.Id("o").Index(jen.Lit(slot[a.buf]))
			}
			args = append(args, jen.Id("m").Dot("arena").Dot("At").Call(jen.Id("p"), off, jen.Lit(a.buf.size)))
		case a.node != nil:
			args = append(args, jen.Op("&").Add(layerPath(a.node, inBlock)))
		case a.src != "":
			args = append(args, jen.Id(a.src))
		default:
			args = append(args, jen.Lit(a.lit))
		}
	}
	switch {
	case c.method == "copy":
		return jen.Copy(args[0], args[1])
	case c.self == "layers":
		return jen.Qual(layersPath, c.method).Call(args...)
	case c.self != "":
		return jen.Id(c.self).Dot(c.method).Call(args...)
	}
	return layerPath(c.recv, inBlock).Dot(c.method).Call(args...)
}

// emitPhase writes func (m *Model) <name>(p, x or dlogits) running calls:
// top-level calls and single blocks in a straight line, runs of equal
// blocks as a loop over a function and a table of buffer offsets.
func emitPhase(f *jen.File, name string, param jen.Code, calls []*call) {
	var body []jen.Code
	for _, s := range segments(calls) {
		switch {
		case s.blocks == nil:
			body = append(body, render(s.calls[0], false, nil))
		case len(s.blocks) == 1:
			blk := s.blocks[0]
			stmts := []jen.Code{jen.Id("b").Op(":=").Op("&").Id("m").Dot("P").Dot(stageField(blk)).Index(jen.Lit(blockIndex(blk)))}
			for _, c := range s.calls {
				stmts = append(stmts, render(c, true, nil))
			}
			body = append(body, jen.Comment(blk), jen.Block(stmts...))
		default:
			fn := fmt.Sprintf("%s%s", name, stageField(s.blocks[0]))
			if k := blockIndex(s.blocks[0]); k != 0 {
				fn += fmt.Sprintf("From%d", k)
			}
			table := fn + "Offsets"
			cols := len(s.slots[0])
			slot := map[*buf]int{}
			for i, b := range s.slots[0] {
				slot[b] = i
			}
			var rows []jen.Code
			for _, bs := range s.slots {
				var offs []jen.Code
				for _, b := range bs {
					offs = append(offs, jen.Lit(b.off))
				}
				rows = append(rows, jen.Values(offs...))
			}
			first, last := blockIndex(s.blocks[0]), blockIndex(s.blocks[len(s.blocks)-1])
			stage := stageField(s.blocks[0])
			f.Commentf("%s holds the arena offsets of the buffers of %s, blocks %d to %d, a row per block.", table, name, first, last)
			f.Var().Id(table).Op("=").Index(jen.Lit(len(rows))).Index(jen.Lit(cols)).Int().Values(jen.Line().List(rows...).Op(",").Line())
			var stmts []jen.Code
			for _, c := range s.calls {
				stmts = append(stmts, render(c, true, slot))
			}
			f.Commentf("%s runs one block of %s.%d to %d in %s.", fn, strings.ToLower(stage), first, last, name)
			f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id(fn).Params(
				jen.Id("p").Op("*").Qual(layersPath, "Pass"), jen.Id("b").Op("*").Id("Block"), jen.Id("o").Op("*").Index(jen.Lit(cols)).Int(),
			).Block(stmts...)
			idx := jen.Id("i")
			if first > 0 {
				idx = jen.Id("i").Op("+").Lit(first)
			}
			loop := jen.Id("m").Dot(fn).Call(jen.Id("p"), jen.Op("&").Id("m").Dot("P").Dot(stage).Index(idx), jen.Op("&").Id(table).Index(jen.Id("i")))
			if last < first {
				loop = jen.Id("m").Dot(fn).Call(jen.Id("p"), jen.Op("&").Id("m").Dot("P").Dot(stage).Index(jen.Lit(first).Op("-").Id("i")), jen.Op("&").Id(table).Index(jen.Id("i")))
			}
			body = append(body, jen.For(jen.Id("i").Op(":=").Range().Id(table)).Block(loop))
		}
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id(name).Params(jen.Id("p").Op("*").Qual(layersPath, "Pass"), param).Block(body...)
}

// normKind is the spec constant of a norm kind.
func normKind(k spec.NormKind) jen.Code {
	return jen.Qual(specPath, map[spec.NormKind]string{spec.BN: "BN", spec.MBN: "MBN", spec.GN: "GN"}[k])
}
