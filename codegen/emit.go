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

// blockKey is a residual block: its stage and index.
type blockKey struct{ stage, block int }

func keyOf(nd *compiler.Node) blockKey { return blockKey{nd.Stage, nd.Block} }

func (k blockKey) name() string { return compiler.BlockName(k.stage, k.block) }

// field is the Go field of a layer: its name inside its block (or the
// network) in CamelCase, "downsample.0" -> Downsample0.
func field(nd *compiler.Node) string {
	name := nd.Name
	if nd.InBlock() {
		name = strings.TrimPrefix(name, keyOf(nd).name()+".")
	}
	var s strings.Builder
	for _, part := range strings.Split(name, ".") {
		s.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return s.String()
}

// stageField is the Params field of a stage: 3 -> Layer3.
func stageField(stage int) string { return fmt.Sprintf("Layer%d", stage) }

// layerPath is the Go expression of node nd's layer in a call of block
// at: b.Conv1 for a layer of that block, m.P.Conv1 at top level, and
// m.P.Layer1[0].Bn1 for a layer of another block (the stem conv of a
// pre-activation network folds the first block's norm).
func layerPath(nd *compiler.Node, at blockKey) *jen.Statement {
	switch {
	case !nd.InBlock():
		return jen.Id("m").Dot("P").Dot(field(nd))
	case keyOf(nd) == at:
		return jen.Id("b").Dot(field(nd))
	}
	return jen.Id("m").Dot("P").Dot(stageField(nd.Stage)).Index(jen.Lit(nd.Block)).Dot(field(nd))
}

// segment is a run of calls: one top-level call (blocks empty), or the
// calls of consecutive blocks of one stage that are the same but for
// their buffers' offsets, which a table holds, a row per block.
type segment struct {
	calls  []*compiler.Call     // the first block's (or the top-level call)
	blocks []blockKey           // the blocks
	slots  [][]*compiler.Buffer // per block, its arena buffers in order of first use
	sig    string               // the first block's signature
}

// slotsOf lists the arena buffers of calls in order of first use.
func slotsOf(calls []*compiler.Call) []*compiler.Buffer {
	var s []*compiler.Buffer
	seen := map[*compiler.Buffer]bool{}
	for _, c := range calls {
		for _, o := range statementOf(c).operands {
			if b := o.buf; b != nil && b.External == compiler.InArena && !seen[b] {
				seen[b] = true
				s = append(s, b)
			}
		}
	}
	return s
}

// signature describes calls up to their buffers' offsets.
func signature(calls []*compiler.Call) string {
	slot := map[*compiler.Buffer]int{}
	for i, b := range slotsOf(calls) {
		slot[b] = i
	}
	var s strings.Builder
	for _, c := range calls {
		st := statementOf(c)
		fmt.Fprintf(&s, "%s.", st.recv)
		if st.layer != nil {
			fmt.Fprintf(&s, "%s.", layerName(st.layer, c))
		}
		s.WriteString(st.method)
		for _, o := range st.operands {
			switch {
			case o.buf != nil && o.buf.External != compiler.InArena:
				s.WriteString(" " + external[o.buf.External])
			case o.buf != nil:
				fmt.Fprintf(&s, " $%d:%d", slot[o.buf], o.buf.Size)
			case o.layer != nil:
				s.WriteString(" &" + layerName(o.layer, c))
			case o.null:
				s.WriteString(" nil")
			default:
				fmt.Fprintf(&s, " %v", o.lit)
			}
		}
		s.WriteString(";")
	}
	return s.String()
}

// layerName names layer nd in a signature of call c's block: by its
// field in the block, or in full if it belongs to another block (so that
// such blocks never share a loop).
func layerName(nd *compiler.Node, c *compiler.Call) string {
	if nd.InBlock() && (nd.Stage != c.Stage || nd.Block != c.Block) {
		return nd.Name
	}
	return field(nd)
}

// segments splits a call list into top-level calls and runs of blocks.
func segments(calls []*compiler.Call) []*segment {
	var segs []*segment
	for i := 0; i < len(calls); {
		c := calls[i]
		if c.Block < 0 {
			segs = append(segs, &segment{calls: []*compiler.Call{c}})
			i++
			continue
		}
		k := blockKey{c.Stage, c.Block}
		j := i
		for j < len(calls) && calls[j].Stage == c.Stage && calls[j].Block == c.Block {
			j++
		}
		blk := calls[i:j]
		sig := signature(blk)
		if last := lastSeg(segs); last != nil && last.sig == sig && last.blocks[0].stage == k.stage {
			last.blocks = append(last.blocks, k)
			last.slots = append(last.slots, slotsOf(blk))
		} else {
			segs = append(segs, &segment{calls: blk, blocks: []blockKey{k}, slots: [][]*compiler.Buffer{slotsOf(blk)}, sig: sig})
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
func render(c *compiler.Call, slot map[*compiler.Buffer]int) jen.Code {
	at := blockKey{c.Stage, c.Block}
	st := statementOf(c)
	args := []jen.Code{}
	if st.method != "copy" {
		args = append(args, jen.Id("p"))
	}
	for _, o := range st.operands {
		switch {
		case o.buf != nil && o.buf.External != compiler.InArena:
			args = append(args, jen.Id(external[o.buf.External]))
		case o.buf != nil:
			off := jen.Lit(o.buf.Offset)
			if slot != nil {
				off = jen.Id("o").Index(jen.Lit(slot[o.buf]))
			}
			args = append(args, jen.Id("m").Dot("arena").Dot("At").Call(jen.Id("p"), off, jen.Lit(o.buf.Size)))
		case o.layer != nil:
			args = append(args, jen.Op("&").Add(layerPath(o.layer, at)))
		case o.null:
			args = append(args, jen.Nil())
		default:
			args = append(args, jen.Lit(o.lit))
		}
	}
	switch {
	case st.method == "copy":
		return jen.Copy(args[0], args[1])
	case st.recv == "layers":
		return jen.Qual(layersPath, st.method).Call(args...)
	case st.recv != "":
		return jen.Id(st.recv).Dot(st.method).Call(args...)
	}
	return layerPath(st.layer, at).Dot(st.method).Call(args...)
}

// emitPhase writes func (m *Model) <name>(p, x or dlogits) running calls:
// top-level calls and single blocks in a straight line, runs of equal
// blocks as a loop over a function and a table of buffer offsets.
func emitPhase(f *jen.File, name string, param jen.Code, calls []*compiler.Call) {
	var body []jen.Code
	for _, s := range segments(calls) {
		switch {
		case s.blocks == nil:
			body = append(body, render(s.calls[0], nil))
		case len(s.blocks) == 1:
			blk := s.blocks[0]
			stmts := []jen.Code{jen.Id("b").Op(":=").Op("&").Id("m").Dot("P").Dot(stageField(blk.stage)).Index(jen.Lit(blk.block))}
			for _, c := range s.calls {
				stmts = append(stmts, render(c, nil))
			}
			body = append(body, jen.Comment(blk.name()), jen.Block(stmts...))
		default:
			stage := stageField(s.blocks[0].stage)
			fn := name + stage
			if k := s.blocks[0].block; k != 0 {
				fn += fmt.Sprintf("From%d", k)
			}
			table := fn + "Offsets"
			cols := len(s.slots[0])
			slot := map[*compiler.Buffer]int{}
			for i, b := range s.slots[0] {
				slot[b] = i
			}
			var rows []jen.Code
			for _, bs := range s.slots {
				var offs []jen.Code
				for _, b := range bs {
					offs = append(offs, jen.Lit(b.Offset))
				}
				rows = append(rows, jen.Values(offs...))
			}
			first, last := s.blocks[0].block, s.blocks[len(s.blocks)-1].block
			f.Commentf("%s holds the arena offsets of the buffers of %s, blocks %d to %d, a row per block.", table, name, first, last)
			f.Var().Id(table).Op("=").Index(jen.Lit(len(rows))).Index(jen.Lit(cols)).Int().Values(jen.Line().List(rows...).Op(",").Line())
			var stmts []jen.Code
			for _, c := range s.calls {
				stmts = append(stmts, render(c, slot))
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
func normKind(k spec.NormKind) jen.Code { return jen.Qual(specPath, k.Info().Const) }
