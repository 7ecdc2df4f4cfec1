package kernels

import (
	"slices"
	"strings"
	"unsafe"

	"github.com/netc/netc/asm"
)

// outerArgs is the argument block of the outer kernels: its fields are
// asm.OuterArgs, in order (TestOuterArgsLayout checks it).
type outerArgs struct {
	a, b, c             unsafe.Pointer
	bBlock, cBlock      int
	loops               [4]struct{ n, a, b int } // loop 0 is the innermost
	flags               int
	bias, res, sum, sq  unsafe.Pointer
	tiles, tileA, tileC int
}

// loop is one loop of an outer kernel's nest as the caller sees it: n
// steps, each moving A and B on by a and b bytes.
type loop struct{ n, a, b int }

// setLoops stores a loop nest, innermost first, as the kernel runs it:
// each level's strides become increments taken after the inner levels
// have run their course. For Channels kernels the innermost level is
// implied (16 channels, 4 bytes of A and 64 of B each) and l0, l1, l2
// are levels 1 to 3; for Pixels kernels they are levels 0 to 2 and level
// 3 runs once.
func (p *outerArgs) setLoops(kind asm.OuterKind, l0, l1, l2 loop) {
	if l0.n < 1 || l1.n < 1 || l2.n < 1 {
		panic("kernels: outer loop with no steps")
	}
	set := func(i int, l, in loop) {
		p.loops[i].n, p.loops[i].a, p.loops[i].b = l.n, l.a-in.n*in.a, l.b-in.n*in.b
	}
	if kind == asm.Channels {
		in := loop{16 / asm.ChannelUnroll, 4 * asm.ChannelUnroll, 64 * asm.ChannelUnroll}
		set(0, in, loop{})
		set(1, l0, in)
		set(2, l1, l0)
		set(3, l2, l1)
		return
	}
	set(0, l0, loop{})
	set(1, l1, l0)
	set(2, l2, l1)
	set(3, loop{1, 0, 0}, l2)
}

// tile is an ISA's outer kernels for one shape and tile width.
type tile struct {
	isa     ISA
	shape   asm.OuterShape
	v       int // vectors of C per row
	maxR    int
	fns     []func(*uintptr) // by rows−1; nil for Generic
	special *specialRun      // kernels specialized to the convolution, or nil
}

// lanes is the float32 lanes of a vector of isa; the generic kernel works
// on whole 16-channel blocks.
func lanes(isa ISA) int {
	if isa == AVX2 {
		return 8
	}
	return 16
}

// asmISA is isa's instruction set in package asm.
func asmISA(isa ISA) asm.ISA {
	if isa == AVX2 {
		return asm.AVX2
	}
	return asm.AVX512
}

// channels is how many channels a row of the tile covers.
func (t tile) channels() int { return t.v * lanes(t.isa) }

// tileFor picks the widest tile of the shape whose channels divide k.
func tileFor(isa ISA, shape asm.OuterShape, k int) tile {
	si := slices.Index(asm.OuterShapes, shape)
	if si < 0 {
		panic("kernels: no outer kernels of this shape")
	}
	if isa == Generic {
		return tile{isa: isa, shape: shape, v: 1, maxR: 4}
	}
	ti := asm.OuterTileIndex(asmISA(isa), k)
	if ti < 0 {
		panic("kernels: no outer kernel tile fits the channel count")
	}
	w := asm.OuterTiles[strings.ToUpper(string(isa))][ti]
	return tile{isa, shape, w.V, w.MaxR, outerKernels[isa][si][ti], nil}
}

// run calls the kernel for tiles of r rows, tiles of A tileA bytes and
// of C tileC bytes apart.
func (t tile) run(r, tiles, tileA, tileC int, p *outerArgs) {
	p.tiles, p.tileA, p.tileC = tiles, tileA, tileC
	if t.special != nil && t.special.run(r, p) {
		return
	}
	if t.fns != nil {
		t.fns[r-1]((*uintptr)(unsafe.Pointer(p)))
		return
	}
	for i := range tiles {
		if i > 0 {
			p.a, p.c = unsafe.Add(p.a, tileA), unsafe.Add(p.c, tileC)
			if p.flags&asm.Residual != 0 {
				p.res = unsafe.Add(p.res, tileC)
			}
		}
		outerGo(t.shape, r, p)
	}
	p.tiles = 0
}

// outerGo is the outer kernel in Go, on one 16-channel block (v = 1).
func outerGo(s asm.OuterShape, rows int, p *outerArgs) {
	var acc [16 * 16]float32
	at := func(base unsafe.Pointer, off int) *float32 { return (*float32)(unsafe.Add(base, off)) }
	inner := 16
	if s.Kind == asm.Pixels {
		inner = p.loops[0].n
	}
	a, b := 0, 0
	for range p.loops[3].n {
		for range p.loops[2].n {
			for range p.loops[1].n {
				for i := range inner {
					ao, bo := a+4*i, b+64*i
					if s.Kind == asm.Pixels {
						ao, bo = a+i*p.loops[0].a, b+i*p.loops[0].b
					}
					for r := range rows {
						av := *at(p.a, ao+r*s.ARow)
						for j := range 16 {
							acc[r*16+j] += av * *at(p.b, bo+4*j)
						}
					}
				}
				if s.Kind == asm.Pixels {
					a, b = a+inner*p.loops[0].a, b+inner*p.loops[0].b
				} else {
					a, b = a+64, b+1024
				}
				a, b = a+p.loops[1].a, b+p.loops[1].b
			}
			a, b = a+p.loops[2].a, b+p.loops[2].b
		}
		a, b = a+p.loops[3].a, b+p.loops[3].b
	}
	for r := range rows {
		for j := range 16 {
			v := acc[r*16+j]
			c := at(p.c, r*s.CRow+4*j)
			if p.flags&asm.Load != 0 {
				v += *c
			}
			if p.flags&asm.Bias != 0 {
				v += *at(p.bias, 4*j)
			}
			if p.flags&asm.Residual != 0 {
				v += *at(p.res, r*s.CRow+4*j)
			}
			if p.flags&asm.ReLU != 0 {
				v = max(v, 0)
			}
			if p.flags&asm.Stats != 0 {
				*at(p.sum, 4*j) += v
				*at(p.sq, 4*j) += v * v
			}
			*c = v
		}
	}
}
