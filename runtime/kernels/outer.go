package kernels

import (
	"slices"
	"unsafe"

	"github.com/netc/netc/runtime/kernels/abi"
)

// loop is one loop of an outer kernel's nest as the caller sees it: n
// steps, each moving A and B on by a and b bytes.
type loop struct{ n, a, b int }

// setLoops stores a loop nest, innermost first, as the kernel runs it:
// each level's strides become increments taken after the inner levels
// have run their course. For Channels kernels the innermost level is
// implied (16 channels, 4 bytes of A and 64 of B each) and l0, l1, l2
// are levels 1 to 3; for Pixels kernels they are levels 0 to 2 and level
// 3 runs once.
func setLoops(p *abi.OuterArgs, kind abi.OuterKind, l0, l1, l2 loop) {
	if l0.n < 1 || l1.n < 1 || l2.n < 1 {
		panic("kernels: outer loop with no steps")
	}
	set := func(i int, l, in loop) {
		p.Loops[i] = abi.Loop{N: l.n, A: l.a - in.n*in.a, B: l.b - in.n*in.b}
	}
	if kind == abi.Channels {
		in := loop{16 / abi.ChannelUnroll, 4 * abi.ChannelUnroll, 64 * abi.ChannelUnroll}
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
	shape   abi.OuterShape
	v       int // vectors of C per row
	lanes   int // floats per vector
	maxR    int
	fns     []func(*uintptr) // by rows−1; nil for the Go kernels
	special *specialRun      // kernels specialized to the convolution, or nil
}

// channels is how many channels a row of the tile covers.
func (t tile) channels() int { return t.v * t.lanes }

// tileFor picks the widest tile of isa for the shape whose channels
// divide k.
func tileFor(isa ISA, shape abi.OuterShape, k int) tile {
	si := slices.Index(abi.OuterShapes, shape)
	if si < 0 {
		panic("kernels: no outer kernels of this shape")
	}
	m := isa.impl()
	ti := m.TileIndex(k)
	if ti < 0 {
		panic("kernels: no outer kernel tile fits the channel count")
	}
	w := m.Tiles[ti]
	t := tile{isa: isa, shape: shape, v: w.V, lanes: m.Lanes, maxR: w.MaxR}
	if m.asm != nil {
		t.fns = m.asm.outer[si][ti]
	}
	return t
}

// run calls the kernel for tiles of r rows, tiles of A tileA bytes and
// of C tileC bytes apart.
func (t tile) run(r, tiles, tileA, tileC int, p *abi.OuterArgs) {
	p.Tiles, p.TileA, p.TileC = tiles, tileA, tileC
	if t.special != nil && t.special.run(r, p) {
		return
	}
	if t.fns != nil {
		t.fns[r-1]((*uintptr)(unsafe.Pointer(p)))
		return
	}
	for i := range tiles {
		if i > 0 {
			p.A, p.C = unsafe.Add(p.A, tileA), unsafe.Add(p.C, tileC)
			if p.Flags&abi.Residual != 0 {
				p.Res = unsafe.Add(p.Res, tileC)
			}
		}
		outerGo(t.shape, r, p)
	}
	p.Tiles = 0
}

// outerGo is the outer kernel in Go, on one 16-channel block (v = 1).
func outerGo(s abi.OuterShape, rows int, p *abi.OuterArgs) {
	var acc [16 * 16]float32
	at := func(base unsafe.Pointer, off int) *float32 { return (*float32)(unsafe.Add(base, off)) }
	inner := 16
	if s.Kind == abi.Pixels {
		inner = p.Loops[0].N
	}
	a, b := 0, 0
	for range p.Loops[3].N {
		for range p.Loops[2].N {
			for range p.Loops[1].N {
				for i := range inner {
					ao, bo := a+4*i, b+64*i
					if s.Kind == abi.Pixels {
						ao, bo = a+i*p.Loops[0].A, b+i*p.Loops[0].B
					}
					for r := range rows {
						av := *at(p.A, ao+r*s.ARow)
						for j := range 16 {
							acc[r*16+j] += av * *at(p.B, bo+4*j)
						}
					}
				}
				if s.Kind == abi.Pixels {
					a, b = a+inner*p.Loops[0].A, b+inner*p.Loops[0].B
				} else {
					a, b = a+64, b+1024
				}
				a, b = a+p.Loops[1].A, b+p.Loops[1].B
			}
			a, b = a+p.Loops[2].A, b+p.Loops[2].B
		}
		a, b = a+p.Loops[3].A, b+p.Loops[3].B
	}
	for r := range rows {
		for j := range 16 {
			v := acc[r*16+j]
			c := at(p.C, r*s.CRow+4*j)
			if p.Flags&abi.Load != 0 {
				v += *c
			}
			if p.Flags&abi.Bias != 0 {
				v += *at(p.Bias, 4*j)
			}
			if p.Flags&abi.Residual != 0 {
				v += *at(p.Res, r*s.CRow+4*j)
			}
			if p.Flags&abi.ReLU != 0 {
				v = max(v, 0)
			}
			if p.Flags&abi.Stats != 0 {
				*at(p.Sum, 4*j) += v
				*at(p.Sq, 4*j) += v * v
			}
			*c = v
		}
	}
}
