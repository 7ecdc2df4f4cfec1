package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// bf16ISAs are the ISAs whose bf16 kernels this CPU runs.
func bf16ISAs(t *testing.T) []ISA {
	var isas []ISA
	for _, isa := range Available() {
		if isa.HasBF16() {
			isas = append(isas, isa)
		}
	}
	if len(isas) == 0 {
		t.Skip("this CPU runs no bf16 kernels (no AVX512_BF16)")
	}
	return isas
}

// TestToBF16 checks the Go rounding against its definition: nearest,
// ties to even, on values between two bf16 and exactly halfway.
func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want BF16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // halfway, down to even
		{0x3f818000, 0x3f82}, // halfway, up to even
		{0x3f808001, 0x3f81}, // above halfway
		{0x3f807fff, 0x3f80}, // below halfway
		{0xbf808001, 0xbf81}, // negative
		{0x7f7fffff, 0x7f80}, // the largest float32 rounds to +Inf
	} {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if nan := ToBF16(float32(math.NaN())).Float32(); nan == nan {
		t.Error("NaN is not a NaN in bf16")
	}
}

// TestBF16Kernels runs the bf16 instructions (encoded by package asm,
// which neither avo nor Go's assembler knows) on this CPU against their
// definitions: VCVTNE2PS2BF16 rounds as ToBF16, VDPBF16PS adds to each
// float32 lane the products of its two bf16 pairs (exact in float32),
// the odd one first, rounding after each add, also with the second
// operand a bf16 pair broadcast from memory.
func TestBF16Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, isa := range bf16ISAs(t) {
		k := isa.impl().asm
		for range 200 {
			var lo, hi [16]float32
			for i := range lo {
				lo[i], hi[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*1e3)
			}
			var dst [16]float32 // 32 bf16
			k.bf16Convert(&dst[0], &lo[0], &hi[0])
			for i := range 32 {
				v := lo[i%16]
				if i >= 16 {
					v = hi[i-16]
				}
				if got := BF16(math.Float32bits(dst[i/2]) >> (16 * (i % 2))); got != ToBF16(v) {
					t.Fatalf("%s: bf16Convert: bf16 %d = %#04x, want %#04x (of %v)", isa, i, got, ToBF16(v), v)
				}
			}
			var acc, want, a, b [16]float32
			for i := range 16 {
				acc[i] = float32(rng.NormFloat64())
				pa := [2]BF16{ToBF16(float32(rng.NormFloat64())), ToBF16(float32(rng.NormFloat64()))}
				pb := [2]BF16{ToBF16(float32(rng.NormFloat64())), ToBF16(float32(rng.NormFloat64()))}
				a[i] = math.Float32frombits(uint32(pa[0]) | uint32(pa[1])<<16)
				b[i] = math.Float32frombits(uint32(pb[0]) | uint32(pb[1])<<16)
				want[i] = acc[i] + pa[1].Float32()*pb[1].Float32()
				want[i] += pa[0].Float32() * pb[0].Float32()
			}
			bcst := acc // b's first pair broadcast, from memory
			pb0 := [2]BF16{BF16(math.Float32bits(b[0])), BF16(math.Float32bits(b[0]) >> 16)}
			for i := range 16 {
				pa := [2]BF16{BF16(math.Float32bits(a[i])), BF16(math.Float32bits(a[i]) >> 16)}
				bcst[i] += pa[1].Float32() * pb0[1].Float32()
				bcst[i] += pa[0].Float32() * pb0[0].Float32()
			}
			got := acc
			k.bf16DotBroadcast(&got[0], &a[0], &b[0])
			k.bf16Dot(&acc[0], &a[0], &b[0])
			for i := range acc {
				if acc[i] != want[i] {
					t.Fatalf("%s: bf16Dot lane %d = %v, want %v", isa, i, acc[i], want[i])
				}
				if got[i] != bcst[i] {
					t.Fatalf("%s: bf16DotBroadcast lane %d = %v, want %v", isa, i, got[i], bcst[i])
				}
			}
		}
		if p := BF16Peak(isa, 1, 20*time.Millisecond); !(p > 0) {
			t.Errorf("%s: bf16 peak %v GFLOP/s", isa, p)
		}
	}
}

// TestToBF16s checks the conversion kernel against ToBF16 for odd and
// even pixel counts, values of every magnitude, halfway cases included.
func TestToBF16s(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, isa := range bf16ISAs(t) {
		for _, pixels := range []int{1, 2, 3, 8, 13} {
			src := make([]float32, pixels*Block)
			for i := range src {
				src[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10)))
				if i%7 == 0 { // exactly halfway between two bf16
					src[i] = math.Float32frombits(math.Float32bits(src[i])&0xffff0000 | 0x8000)
				}
			}
			got := make([]BF16, len(src)+Block) // one pixel more: nothing may be written past the end
			ToBF16s(isa, got[:len(src)], src)
			for i, v := range src {
				if got[i] != ToBF16(v) {
					t.Fatalf("%s, %d pixels: bf16 %d = %#04x, want %#04x (of %v)", isa, pixels, i, got[i], ToBF16(v), v)
				}
			}
			for i := len(src); i < len(got); i++ {
				if got[i] != 0 {
					t.Fatalf("%s, %d pixels: wrote past the end (index %d)", isa, pixels, i)
				}
			}
		}
	}
}
