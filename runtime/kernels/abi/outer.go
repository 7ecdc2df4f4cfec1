package abi

import (
	"fmt"
	"reflect"
	"unsafe"
)

// OuterArgs is the argument block of the outer kernels (see the package
// documentation), passed by pointer. Every field is 8 bytes on amd64;
// the generators address the fields by their Field offsets. Pointers
// never pass the last tile, so the block may hold them as
// unsafe.Pointer.
type OuterArgs struct {
	A, B, C        unsafe.Pointer
	BBlock, CBlock int     // bytes between the 16-channel blocks of B, of C (and Res)
	Loops          [4]Loop // the loop nest, loop 0 innermost
	Flags          int     // the epilogue: Load, Bias, Residual, ReLU, Stats
	Bias, Res      unsafe.Pointer
	Sum, Sq        unsafe.Pointer
	Tiles          int // tiles to run, at least 1; zero on return
	TileA, TileC   int // bytes between consecutive tiles of A, of C and Res
}

// Loop is one level of the outer kernels' loop nest as the kernel runs
// it: N steps, then A and B move on by A and B bytes after the inner
// levels have run their course (so the strides include undoing the inner
// levels' moves).
type Loop struct{ N, A, B int }

// Field is a field of OuterArgs: one of the Field variables (an integer
// is not one).
type Field struct{ offset uintptr }

// Offset is the field's byte offset in OuterArgs.
func (f Field) Offset() uintptr { return f.offset }

const (
	loops    = unsafe.Offsetof(OuterArgs{}.Loops)
	loopSize = unsafe.Sizeof(Loop{})
	loopN    = unsafe.Offsetof(Loop{}.N)
	loopA    = unsafe.Offsetof(Loop{}.A)
	loopB    = unsafe.Offsetof(Loop{}.B)
)

// The fields of OuterArgs. FieldNl, FieldAl and FieldBl are loop l's.
var (
	FieldA      = Field{unsafe.Offsetof(OuterArgs{}.A)}
	FieldB      = Field{unsafe.Offsetof(OuterArgs{}.B)}
	FieldC      = Field{unsafe.Offsetof(OuterArgs{}.C)}
	FieldBBlock = Field{unsafe.Offsetof(OuterArgs{}.BBlock)}
	FieldCBlock = Field{unsafe.Offsetof(OuterArgs{}.CBlock)}
	FieldN0     = Field{loops + 0*loopSize + loopN}
	FieldA0     = Field{loops + 0*loopSize + loopA}
	FieldB0     = Field{loops + 0*loopSize + loopB}
	FieldN1     = Field{loops + 1*loopSize + loopN}
	FieldA1     = Field{loops + 1*loopSize + loopA}
	FieldB1     = Field{loops + 1*loopSize + loopB}
	FieldN2     = Field{loops + 2*loopSize + loopN}
	FieldA2     = Field{loops + 2*loopSize + loopA}
	FieldB2     = Field{loops + 2*loopSize + loopB}
	FieldN3     = Field{loops + 3*loopSize + loopN}
	FieldA3     = Field{loops + 3*loopSize + loopA}
	FieldB3     = Field{loops + 3*loopSize + loopB}
	FieldFlags  = Field{unsafe.Offsetof(OuterArgs{}.Flags)}
	FieldBias   = Field{unsafe.Offsetof(OuterArgs{}.Bias)}
	FieldRes    = Field{unsafe.Offsetof(OuterArgs{}.Res)}
	FieldSum    = Field{unsafe.Offsetof(OuterArgs{}.Sum)}
	FieldSq     = Field{unsafe.Offsetof(OuterArgs{}.Sq)}
	FieldTiles  = Field{unsafe.Offsetof(OuterArgs{}.Tiles)}
	FieldTileA  = Field{unsafe.Offsetof(OuterArgs{}.TileA)}
	FieldTileC  = Field{unsafe.Offsetof(OuterArgs{}.TileC)}
)

// LoopFields are the fields of each level of the loop nest.
var LoopFields = [4]struct{ N, A, B Field }{
	{FieldN0, FieldA0, FieldB0},
	{FieldN1, FieldA1, FieldB1},
	{FieldN2, FieldA2, FieldB2},
	{FieldN3, FieldA3, FieldB3},
}

// fieldNames are the fields' names by offset, from OuterArgs itself:
// "BBlock", and "N1" for Loops[1].N.
var fieldNames = func() map[Field]string {
	names := map[Field]string{}
	t := reflect.TypeFor[OuterArgs]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() != reflect.Array {
			names[Field{f.Offset}] = f.Name
			continue
		}
		el := f.Type.Elem()
		for l := range f.Type.Len() {
			for j := range el.NumField() {
				g := el.Field(j)
				names[Field{f.Offset + uintptr(l)*el.Size() + g.Offset}] = fmt.Sprint(g.Name, l)
			}
		}
	}
	return names
}()

// String is the field's name: "BBlock", "N1" (its constant is Field
// followed by the name).
func (f Field) String() string {
	if n, ok := fieldNames[f]; ok {
		return n
	}
	return fmt.Sprintf("Field(%d)", f.offset)
}

// Fields lists every field of OuterArgs in order.
func Fields() []Field {
	var fs []Field
	for off := uintptr(0); off < unsafe.Sizeof(OuterArgs{}); off++ {
		if _, ok := fieldNames[Field{off}]; ok {
			fs = append(fs, Field{off})
		}
	}
	return fs
}

// Flags of an outer kernel's epilogue, applied in this order after the
// loops: Load adds the tile's old value in C, Bias adds a vector per
// channel (Bias), Residual adds a tensor laid out as C (Res), ReLU clamps
// at zero, Stats adds the tile's per-channel sum and sum of squares to
// the vectors at Sum and Sq. The tile is then stored to C. Bias, Sum and
// Sq point at the tile's first channel of plain per-channel vectors.
const (
	Load = 1 << iota
	Bias
	Residual
	ReLU
	Stats
)

// OuterKind is how the innermost loop of an outer kernel steps.
type OuterKind int

const (
	// Channels: the innermost loop runs 16 steps, fully unrolled in groups
	// of ChannelUnroll, over the 16 channels of a block: A moves on 4 bytes
	// (one float) and B 64 bytes (a row of 16) per step.
	Channels OuterKind = iota
	// Pixels: the innermost loop runs N0 steps with run-time strides A0
	// and B0 bytes.
	Pixels
)

// ChannelUnroll is how many steps of a Channels loop are unrolled.
const ChannelUnroll = 4

// OuterShape is a compile-time shape of an outer kernel: its kind and the
// byte distances between consecutive rows of A and of C.
type OuterShape struct {
	Kind       OuterKind
	ARow, CRow int
}

// OuterShapes are the outer kernels the runtime uses; the kernel tables
// are indexed by position in this list.
var OuterShapes = []OuterShape{
	{Channels, 64, 64},  // forward, stride 1; data gradient, stride 1
	{Channels, 128, 64}, // forward, stride 2
	{Channels, 64, 128}, // data gradient of stride 2, one phase
	{Pixels, 4, 64},     // weight gradient (rows are channels or stem taps)
	{Pixels, 8, 64},     // stem forward, stride 2 (stride 1 uses ARow 4)
}
