package abi

// TileCount is how many tiles of at most maxR pixels the runtime splits a
// row of n pixels into: tile j of k has (n+j)/k pixels (a 7-wide row
// becomes 3+4, not 6+1: a short tile has too few accumulators to hide
// the FMA latency).
func TileCount(n, maxR int) int { return (n + maxR - 1) / maxR }

// RowOp is one step of a forward-shaped convolution over a row of output
// pixels: an outer kernel call on pixels Ox..Ox+R−1 over tap columns
// Tx..Tx+NTx−1 with epilogue Flags, or, if NTx is 0, clearing the pixels.
type RowOp struct{ Ox, R, Tx, NTx, Flags int }

// RowPlan lists the steps that compute a row of width output pixels of a
// convolution over rows of inW input pixels with taps tap columns, a
// stride and padding pad, in tiles of at most maxR pixels, with epilogue
// flags. Tiles whose pixels all see every tap column are one call. Border
// taps add to the pixels they reach in extra calls, before the main call
// if it must apply an epilogue to the finished sums (the first of them
// then stores, and the pixels it misses are cleared), after it if not.
// It panics if a pixel sees no tap column and flags is not 0.
func RowPlan(width, inW, taps, stride, pad, maxR, flags int) []RowOp {
	var ops []RowOp
	zero := func(ox, r int) {
		if r > 0 {
			ops = append(ops, RowOp{Ox: ox, R: r})
		}
	}
	var tile func(ox, r int)
	tile = func(ox, r int) {
		ix := ox*stride - pad
		// Taps valid for every pixel of the tile, and the pixels each
		// other tap is valid for.
		txlo, txhi := max(0, -ix), min(taps, inW-(ix+(r-1)*stride))
		if txlo >= txhi {
			if r > 1 {
				tile(ox, r/2)
				tile(ox+r/2, r-r/2)
				return
			}
			if flags != 0 {
				panic("abi: an output pixel of a convolution with an epilogue sees no input")
			}
			zero(ox, 1)
			return
		}
		if txlo == 0 && txhi == taps {
			ops = append(ops, RowOp{ox, r, 0, taps, flags})
			return
		}
		store := flags != 0 // the next border call stores rather than adds
		if !store {
			ops = append(ops, RowOp{ox, r, txlo, txhi - txlo, 0})
		}
		for tx := range taps {
			if tx >= txlo && tx < txhi {
				continue
			}
			// Pixels j with 0 ≤ ix + j·stride + tx < inW.
			jlo := max(0, ceilDiv(-ix-tx, stride))
			jhi := min(r-1, floorDiv(inW-1-ix-tx, stride))
			if jlo > jhi {
				continue
			}
			f := Load
			if store {
				store, f = false, 0
				zero(ox, jlo)
				zero(ox+jhi+1, r-1-jhi)
			}
			ops = append(ops, RowOp{ox + jlo, jhi - jlo + 1, tx, 1, f})
		}
		if store {
			zero(ox, r) // no border tap reached any pixel
		}
		if flags != 0 {
			ops = append(ops, RowOp{ox, r, txlo, txhi - txlo, flags | Load})
		}
	}
	k := TileCount(width, maxR)
	ox := 0
	for j := range k {
		r := (width + j) / k
		tile(ox, r)
		ox += r
	}
	return ops
}

func ceilDiv(a, b int) int  { return -floorDiv(-a, b) }
func floorDiv(a, b int) int { return (a - ((a%b)+b)%b) / b }
