package abi

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// RowPlan computes every pixel of a row from exactly its valid taps: a
// pixel is first stored (a call without Load, or cleared), then only
// added to; with an epilogue, the call applying it comes last and sees
// the whole sum.
func TestRowPlanCoversEachTapOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		taps := 1 + rng.IntN(7)
		stride := 1 + rng.IntN(2)
		pad := rng.IntN(taps)
		inW := 1 + rng.IntN(40)
		width := (inW+2*pad-taps)/stride + 1
		if width < 1 {
			continue
		}
		maxR := 1 + rng.IntN(16)
		flags := []int{0, Bias | ReLU}[rng.IntN(2)]
		ops := RowPlan(width, inW, taps, stride, pad, maxR, flags)
		type pixel struct {
			stored, done bool
			taps         []int
		}
		px := make([]pixel, width)
		for _, op := range ops {
			for o := op.Ox; o < op.Ox+op.R; o++ {
				p := &px[o]
				if p.done {
					t.Fatalf("%+v: pixel %d touched after its epilogue", op, o)
				}
				if op.NTx == 0 || op.Flags&Load == 0 {
					if p.stored {
						t.Fatalf("%+v: pixel %d stored twice", op, o)
					}
					p.stored = true
				} else if !p.stored {
					t.Fatalf("%+v: pixel %d added to before stored", op, o)
				}
				for tx := op.Tx; tx < op.Tx+op.NTx; tx++ {
					if ix := o*stride - pad + tx; ix < 0 || ix >= inW {
						t.Fatalf("%+v: pixel %d reads column %d", op, o, ix)
					}
					p.taps = append(p.taps, tx)
				}
				if flags != 0 && op.Flags&^Load == flags {
					p.done = true
				} else if op.Flags&^Load != 0 {
					t.Fatalf("%+v: epilogue flags %d", op, flags)
				}
			}
			if op.R < 1 || op.R > maxR || op.NTx > 0 && op.Tx+op.NTx > taps {
				t.Fatalf("%+v: bad step (maxR %d, %d taps)", op, maxR, taps)
			}
		}
		for o, p := range px {
			var want []int
			for tx := range taps {
				if ix := o*stride - pad + tx; ix >= 0 && ix < inW {
					want = append(want, tx)
				}
			}
			slices.Sort(p.taps)
			if !p.stored || !slices.Equal(p.taps, want) || flags != 0 && !p.done {
				t.Fatalf("width %d inW %d taps %d stride %d pad %d maxR %d flags %d: pixel %d: %+v, want taps %v\n%+v",
					width, inW, taps, stride, pad, maxR, flags, o, p, want, ops)
			}
		}
	}
}
