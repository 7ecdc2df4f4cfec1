package kernels

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/netc/netc/runtime/kernels/abi"
	"github.com/netc/netc/runtime/ref"
)

// Special is one convolution shape's forward outer kernels for one ISA,
// specialized by package asm: the library (runtime/kernels/special) or
// a compiled model carries them in its assembly, and ConvForwardSpecial
// runs them in place of the general kernels. They compute the same sums
// in the same order, so the results are bitwise those of ConvForward.
type Special struct {
	ISA  ISA
	Conv ref.Conv // the shape; N is 0, the kernels serve any batch
	V    int      // vectors per tile row (abi.ISA.TileIndex's tile)
	// Fixed are the fields of the argument block the kernels have as
	// immediates: every call's block must hold these values.
	Fixed []Fixed
	// Tiles are the kernels by tile rows − 1 (up to the tile's largest).
	Tiles []SpecialTile
}

// Fixed is a field of the outer kernels' argument block and its value.
type Fixed struct {
	Field abi.Field
	Value int
}

// SpecialTile is the specialized kernels of one tile height: One
// computes one tile per pass, Stacked[i] i+2 tiles of consecutive output
// rows per pass (more accumulators for short tiles). A nil One leaves
// that height to the general kernel.
type SpecialTile struct {
	One     func(*uintptr)
	Stacked []func(*uintptr)
}

// Specials are one convolution shape's specialized kernels, one for each
// ISA that has them.
type Specials []*Special

// For returns the kernels for isa, or nil if there are none.
func (ss Specials) For(isa ISA) *Special {
	for _, s := range ss {
		if s.ISA == isa {
			return s
		}
	}
	return nil
}

// ConvForwardSpecial is ConvForward with the kernels of s, specialized
// to c's shape and isa; nil s is ConvForward. It panics if s is for
// another shape or ISA, or (after computing y with the general kernels
// where they disagree) if the kernels' immediates are not the driver's
// argument values.
func ConvForwardSpecial(isa ISA, c ref.Conv, x, w, y []float32, e Epilogue, s *Special) {
	convForward(isa, c, x, w, y, e, s)
}

// check panics unless s's kernels fit tile t of convolution c on isa.
func (s *Special) check(isa ISA, c ref.Conv, t tile) {
	shape := c
	shape.N = 0
	if s.ISA != isa || s.Conv != shape || Plain(c) || s.V != t.v || len(s.Tiles) != t.maxR {
		panic(fmt.Sprintf("kernels: specialized kernels for %s %v (%d×%d tiles) do not fit %s %v (%d×%d)",
			s.ISA, s.Conv, len(s.Tiles), s.V, isa, c, t.maxR, t.v))
	}
}

// specialRun is the specialized kernels of one ConvForwardSpecial, and
// the first argument field a call had other than they fixed.
type specialRun struct {
	*Special
	mismatch atomic.Pointer[string]
}

// run runs the kernels of r-row tiles on the argument block p if s has
// them and p holds the values they fixed, and reports whether it did.
func (s *specialRun) run(r int, p *abi.OuterArgs) bool {
	k := &s.Tiles[r-1]
	if k.One == nil {
		return false
	}
	for _, f := range s.Fixed {
		if v := *(*int)(unsafe.Add(unsafe.Pointer(p), f.Field.Offset())); v != f.Value {
			msg := fmt.Sprintf("%v = %d, a call %d", f.Field, f.Value, v)
			s.mismatch.CompareAndSwap(nil, &msg)
			return false
		}
	}
	tiles, most := p.Tiles, len(k.Stacked)+1
	if most == 1 || tiles == 1 {
		k.One((*uintptr)(unsafe.Pointer(p)))
		return true
	}
	// The tiles in passes of m and m+1 tiles (at most two calls), as
	// even as the largest pass allows.
	passes := (tiles + most - 1) / most
	m, big := tiles/passes, tiles%passes // big passes have m+1 tiles
	a, c, res := p.A, p.C, p.Res
	done := 0
	for _, run := range [2]struct{ n, m int }{{big, m + 1}, {passes - big, m}} {
		if run.n == 0 {
			continue
		}
		if done > 0 {
			p.A, p.C = unsafe.Add(a, done*p.TileA), unsafe.Add(c, done*p.TileC)
			if p.Flags&abi.Residual != 0 {
				p.Res = unsafe.Add(res, done*p.TileC)
			}
		}
		p.Tiles = run.n
		fn := k.One
		if run.m > 1 {
			fn = k.Stacked[run.m-2]
		}
		fn((*uintptr)(unsafe.Pointer(p)))
		done += run.n * run.m
	}
	return true
}
