package kernels

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// HasBF16 reports whether isa has bf16 kernels that this CPU runs
// (AVX512_BF16).
func (isa ISA) HasBF16() bool { return isa.impl().bf16 }

// BF16Peak measures the bf16 dot-product throughput of isa in GFLOP/s
// (VDPBF16PS: two multiply-adds per float32 lane), as FMAPeak does for
// float32: threads goroutines each running the peak loop for about d. It
// returns 0 where isa has no bf16 kernels this CPU runs.
func BF16Peak(isa ISA, threads int, d time.Duration) float64 {
	m := isa.impl()
	if !m.bf16 {
		return 0
	}
	return peak(m.asm.bf16Peak, 4*m.Lanes*m.FMAChains, threads, d)
}

// peak times loop, whose iterations are flops each, on threads
// goroutines for about d, in GFLOP/s.
func peak(loop func(n int), flops, threads int, d time.Duration) float64 {
	// Calibrate the iterations that take about d on one thread.
	n := 1 << 16
	for {
		start := time.Now()
		loop(n)
		if el := time.Since(start); el > d/8 {
			n = int(float64(n) * float64(d) / float64(el))
			break
		}
		n *= 2
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(n)
		}()
	}
	wg.Wait()
	return float64(flops) * float64(n) * float64(threads) / time.Since(start).Seconds() / 1e9
}

// BF16 is a bfloat16: a float32's sign, exponent and top 7 mantissa bits.
type BF16 uint16

// ToBF16 rounds v to the nearest bf16, ties to even (NaN stays a quiet
// NaN), as VCVTNE2PS2BF16 does.
func ToBF16(v float32) BF16 {
	b := math.Float32bits(v)
	if v != v {
		return BF16(b>>16 | 0x40)
	}
	return BF16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}

// Float32 is b as a float32 (exact).
func (b BF16) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }

// ToBF16s rounds src, NCHW16c activations (16 float32 a pixel), to bf16
// in dst, in the same layout: with the ISA's bf16 kernel where this CPU
// runs it, else with ToBF16 (the same values). It panics unless dst and
// src have the same length, a multiple of 16.
func ToBF16s(isa ISA, dst []BF16, src []float32) {
	if len(dst) != len(src) || len(src)%Block != 0 {
		panic(fmt.Sprintf("kernels: ToBF16s of %d float32 into %d bf16: want equal multiples of %d", len(src), len(dst), Block))
	}
	if len(src) == 0 {
		return
	}
	if m := isa.impl(); m.bf16 {
		m.asm.bf16FromFloat32((*uint16)(&dst[0]), &src[0], len(src)/Block)
		return
	}
	for i, v := range src {
		dst[i] = ToBF16(v)
	}
}
