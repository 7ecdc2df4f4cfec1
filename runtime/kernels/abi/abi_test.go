package abi

import (
	"strings"
	"testing"
	"unsafe"
)

// The argument block is 25 fields of 8 bytes, in the order the kernels
// were first written with (the assembly addresses them by offset), and
// each constant's name is Field followed by the field's name.
func TestOuterArgsLayout(t *testing.T) {
	want := []string{
		"A", "B", "C", "BBlock", "CBlock",
		"N0", "A0", "B0", "N1", "A1", "B1", "N2", "A2", "B2", "N3", "A3", "B3",
		"Flags", "Bias", "Res", "Sum", "Sq",
		"Tiles", "TileA", "TileC",
	}
	if n := unsafe.Sizeof(OuterArgs{}); n != uintptr(8*len(want)) {
		t.Fatalf("OuterArgs is %d bytes, want %d", n, 8*len(want))
	}
	fs := Fields()
	if len(fs) != len(want) {
		t.Fatalf("%d fields %v, want %d", len(fs), fs, len(want))
	}
	for i, f := range fs {
		if f.Offset() != uintptr(8*i) || f.String() != want[i] {
			t.Errorf("field %d: %v at %d, want %s at %d", i, f, f.Offset(), want[i], 8*i)
		}
	}
	consts := map[string]Field{
		"FieldA": FieldA, "FieldB": FieldB, "FieldC": FieldC, "FieldBBlock": FieldBBlock, "FieldCBlock": FieldCBlock,
		"FieldN0": FieldN0, "FieldA0": FieldA0, "FieldB0": FieldB0, "FieldN1": FieldN1, "FieldA1": FieldA1, "FieldB1": FieldB1,
		"FieldN2": FieldN2, "FieldA2": FieldA2, "FieldB2": FieldB2, "FieldN3": FieldN3, "FieldA3": FieldA3, "FieldB3": FieldB3,
		"FieldFlags": FieldFlags, "FieldBias": FieldBias, "FieldRes": FieldRes, "FieldSum": FieldSum, "FieldSq": FieldSq,
		"FieldTiles": FieldTiles, "FieldTileA": FieldTileA, "FieldTileC": FieldTileC,
	}
	for name, f := range consts {
		if "Field"+f.String() != name {
			t.Errorf("%s names field %v", name, f)
		}
	}
	for l, lf := range LoopFields {
		if lf.N.Offset() != uintptr(8*(5+3*l)) || lf.A.Offset() != lf.N.Offset()+8 || lf.B.Offset() != lf.N.Offset()+16 {
			t.Errorf("loop %d: fields %v", l, lf)
		}
	}
	if s := (Field{3}).String(); s != "Field(3)" {
		t.Errorf("Field(3) is %q", s)
	}
}

func TestLookup(t *testing.T) {
	for _, isa := range ISAs {
		if got, err := Lookup(isa.Name); err != nil || got != isa {
			t.Errorf("Lookup(%q) = %v, %v", isa.Name, got, err)
		}
	}
	if _, err := Lookup("neon"); err == nil || !strings.Contains(err.Error(), `"neon"`) || !strings.Contains(err.Error(), "avx512") {
		t.Errorf("Lookup(neon): %v, want an error naming it and the known ISAs", err)
	}
}

// The tables fit each ISA: the tile the runtime picks covers the channel
// counts it runs (multiples of 16), the assembly GEMM tile is two
// vectors wide, and every tile fits the registers with its B vectors and
// the broadcast.
func TestTables(t *testing.T) {
	for _, isa := range ISAs {
		for _, k := range []int{16, 32, 48, 64, 2048} {
			i := isa.TileIndex(k)
			if i < 0 || k%(isa.Tiles[i].V*isa.Lanes) != 0 {
				t.Errorf("%s: no tile for %d channels (%d)", isa, k, i)
			}
		}
		if isa.Suffix == "" {
			continue
		}
		if isa.Gemm.Cols != 2*isa.Lanes || 2*isa.Gemm.Rows+3 > isa.Regs {
			t.Errorf("%s: GEMM tile %+v", isa, isa.Gemm)
		}
		for _, tl := range isa.Tiles {
			if tl.V*tl.MaxR+tl.V+1 > isa.Regs {
				t.Errorf("%s: tile %+v needs more than %d registers", isa, tl, isa.Regs)
			}
		}
	}
	if got := AVX512.TileIndex(16); AVX512.Tiles[got].V != 1 {
		t.Errorf("AVX-512, 16 channels: tile %d", got)
	}
	if got := AVX512.TileIndex(64); AVX512.Tiles[got].V != 2 {
		t.Errorf("AVX-512, 64 channels: tile %d", got)
	}
	if AVX2.MaxAccumulators() != 12 || AVX512.MaxAccumulators() != 28 {
		t.Errorf("accumulators %d, %d", AVX2.MaxAccumulators(), AVX512.MaxAccumulators())
	}
}
