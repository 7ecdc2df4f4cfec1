package abi

import "fmt"

// Version is the version of this contract. Generated code references the
// constant Version1 (Version's value in its name), so that code written
// for another version fails to compile; bump both together.
const Version = 1

// Version1 is what generated code references to say it was written for
// Version 1 of this contract.
const Version1 = Version

// ISA describes an instruction set the kernels are written for: its
// vector registers and the tile tables of its kernels. The kernels'
// implementations register by ISA (runtime/kernels); code that depends
// on the instruction set reads these fields rather than testing names.
type ISA struct {
	Name   string // as the runtime and NETC_ISA name it: "avx2"
	Suffix string // of generated function names: "AVX2"; "" for none (Go)
	Lanes  int    // float32 values in one vector (1 for the Go kernels)
	Regs   int    // vector registers the kernels may use
	// EVEX is AVX-512's encoding: mask registers, zeroing-masked moves,
	// VPXORD on full-width registers.
	EVEX bool
	// FMAChains is the number of independent FMA chains the peak loop
	// keeps in flight: enough to cover FMA latency (4 cycles) on two
	// pipes.
	FMAChains int
	// Gemm is the register tile of the GEMM micro-kernel: Rows rows of
	// Cols columns of C (two vectors for the assembly kernels).
	Gemm GemmTile
	// NormUnroll is the pixels one iteration of a normalization kernel's
	// reduction loop handles; each pixel of an iteration has its own
	// accumulators.
	NormUnroll int
	// Tiles are the outer kernels' tile widths V (vectors), each with
	// the largest tile height R: every R from 1 up exists.
	Tiles []Tile
	// BF16 says the ISA has bf16 kernels (AVX512_BF16's VDPBF16PS and
	// VCVTNE2PS2BF16), which run where the CPU has that extension too.
	BF16 bool
}

// GemmTile is the register tile of a GEMM micro-kernel.
type GemmTile struct{ Rows, Cols int }

// Tile is a tile width of the outer kernels and its largest height.
type Tile struct{ V, MaxR int }

// NormStreamUnroll is the pixels per iteration of the streaming kernels
// without reductions (affine, apply, flat), on every ISA.
const NormStreamUnroll = 4

// The instruction sets, from slowest to fastest.
var (
	// Generic is the pure-Go kernels: scalar code, one 16-channel block
	// a tile row.
	Generic = ISA{Name: "generic", Lanes: 1, FMAChains: 8, Gemm: GemmTile{4, 8},
		Tiles: []Tile{{V: 16, MaxR: 4}}}
	// AVX2 is AVX2 + FMA: 16 ymm registers. The GEMM tile is 6×16 floats
	// in 12 accumulators; outer tiles are 6×2 vectors (12 accumulators, 2
	// B vectors, 1 broadcast).
	AVX2 = ISA{Name: "avx2", Suffix: "AVX2", Lanes: 8, Regs: 16, FMAChains: 12, Gemm: GemmTile{6, 16},
		NormUnroll: 2, Tiles: []Tile{{V: 2, MaxR: 6}}}
	// AVX512 is AVX-512F (with DQ): 32 zmm registers. The GEMM tile is
	// 14×32 floats in 28 accumulators; outer tiles use up to 28.
	AVX512 = ISA{Name: "avx512", Suffix: "AVX512", Lanes: 16, Regs: 32, EVEX: true, FMAChains: 24, Gemm: GemmTile{14, 32},
		NormUnroll: 4, Tiles: []Tile{{V: 1, MaxR: 16}, {V: 2, MaxR: 14}}, BF16: true}
)

// ISAs lists every instruction set, slowest first.
var ISAs = []*ISA{&Generic, &AVX2, &AVX512}

// Lookup returns the instruction set named name, or an error naming the
// known ones.
func Lookup(name string) (*ISA, error) {
	for _, isa := range ISAs {
		if isa.Name == name {
			return isa, nil
		}
	}
	var known []string
	for _, isa := range ISAs {
		known = append(known, isa.Name)
	}
	return nil, fmt.Errorf("unknown ISA %q (known: %v)", name, known)
}

func (isa *ISA) String() string { return isa.Name }

// PeakFlops is the float32 flops of one iteration of the peak loop:
// FMAChains FMAs of Lanes lanes, two flops each.
func (isa *ISA) PeakFlops() int { return 2 * isa.Lanes * isa.FMAChains }

// TileIndex is the index in Tiles of the tile the runtime uses for k
// channels: the widest whose channels (V·Lanes) divide k; -1 if none
// does.
func (isa *ISA) TileIndex(k int) int {
	best := -1
	for i, t := range isa.Tiles {
		if c := t.V * isa.Lanes; k%c == 0 && (best < 0 || c > isa.Tiles[best].V*isa.Lanes) {
			best = i
		}
	}
	return best
}

// MaxAccumulators is the most accumulators a tile of the general outer
// kernels keeps: how many a kernel computing several tiles per pass may
// use.
func (isa *ISA) MaxAccumulators() int {
	n := 0
	for _, t := range isa.Tiles {
		n = max(n, t.V*t.MaxR)
	}
	return n
}
