package compiler

import "sort"

// Live is a buffer of a compiled program: Size floats per image, written
// first at step First and read last at step Last (First <= Last).
type Live struct{ Size, First, Last int }

// Arena lays out buffers in one arena so that two of them share memory
// only if their lives do not overlap: greedy first fit, the largest and
// then the longest-lived buffers first. It returns each buffer's offset
// and the arena's size, in floats per image.
func Arena(bufs []Live) (offsets []int, size int) {
	order := make([]int, len(bufs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := bufs[order[a]], bufs[order[b]]
		if x.Size != y.Size {
			return x.Size > y.Size
		}
		return x.Last-x.First > y.Last-y.First
	})
	offsets = make([]int, len(bufs))
	var placed, clash []int
	for _, i := range order {
		b := bufs[i]
		clash = clash[:0]
		for _, j := range placed {
			if o := bufs[j]; o.First <= b.Last && b.First <= o.Last {
				clash = append(clash, j)
			}
		}
		sort.Slice(clash, func(a, b int) bool { return offsets[clash[a]] < offsets[clash[b]] })
		off := 0 // the first gap that fits
		for _, j := range clash {
			if offsets[j] >= off+b.Size {
				break
			}
			off = max(off, offsets[j]+bufs[j].Size)
		}
		offsets[i] = off
		size = max(size, off+b.Size)
		placed = append(placed, i)
	}
	return offsets, size
}
