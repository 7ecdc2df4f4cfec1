package kernels

import (
	"fmt"
	"unsafe"

	"github.com/netc/netc/asm"
	"github.com/netc/netc/runtime/ref"
)

// The convolutions on blocked tensors. An activation of n images, c
// channels and h×w pixels is stored NCHW16c: [n][c/16][h][w][16], so that
// one pixel's 16 channels are one (AVX-512) or two (AVX2) vectors. Only
// the network's input is plain NCHW, with any number of channels; the
// stem convolution reads it as it is.
//
// Weights of a convolution with k output and c input channels (c a
// multiple of 16) are packed [k/16][c/16][r][s][16 in][16 out]; a stem's
// [k/16][c][r][s][16 out]. Every convolution is a loop over tiles of the
// outer kernel (package asm): R output pixels × 16 or 32 output channels
// for the forward pass and the data gradient, 16 input channels (or stem
// taps) × output channels for the weight gradient. Work is split
// statically over images, channel groups and rows, so results do not
// depend on the thread count, except the forward pass's statistics, which
// add each thread's partial sums in thread order.

// Block is the channel block of the NCHW16c layout.
const Block = 16

// ToBlocked copies n×c×hw plain NCHW values into dst in NCHW16c order; c
// must be a multiple of Block.
func ToBlocked(n, c, hw int, src, dst []float32) {
	Parallel(n*c/Block, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			s, d := src[b*Block*hw:(b+1)*Block*hw], dst[b*Block*hw:(b+1)*Block*hw]
			for p := range hw {
				for j := range Block {
					d[p*Block+j] = s[j*hw+p]
				}
			}
		}
	})
}

// FromBlocked copies n×c×hw NCHW16c values into dst in plain NCHW order.
func FromBlocked(n, c, hw int, src, dst []float32) {
	Parallel(n*c/Block, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			s, d := src[b*Block*hw:(b+1)*Block*hw], dst[b*Block*hw:(b+1)*Block*hw]
			for p := range hw {
				for j := range Block {
					d[j*hw+p] = s[p*Block+j]
				}
			}
		}
	})
}

// Plain reports whether a convolution's input is plain NCHW (the stem):
// its channel count is not a multiple of Block.
func Plain(c ref.Conv) bool { return c.C%Block != 0 }

// WeightsLen is the length of c's packed weights.
func WeightsLen(c ref.Conv) int { return c.K * c.C * c.R * c.S }

// PackWeights packs OIHW weights w of c into dst.
func PackWeights(c ref.Conv, w, dst []float32) {
	for k := range c.K {
		for ci := range c.C {
			for t := range c.R * c.S {
				v := w[(k*c.C+ci)*c.R*c.S+t]
				if Plain(c) {
					dst[((k/Block*c.C+ci)*c.R*c.S+t)*Block+k%Block] = v
				} else {
					dst[(((k/Block*(c.C/Block)+ci/Block)*c.R*c.S+t)*Block+ci%Block)*Block+k%Block] = v
				}
			}
		}
	}
}

// UnpackWeights is the inverse of PackWeights: it writes OIHW weights.
func UnpackWeights(c ref.Conv, packed, w []float32) {
	for k := range c.K {
		for ci := range c.C {
			for t := range c.R * c.S {
				if Plain(c) {
					w[(k*c.C+ci)*c.R*c.S+t] = packed[((k/Block*c.C+ci)*c.R*c.S+t)*Block+k%Block]
				} else {
					w[(k*c.C+ci)*c.R*c.S+t] = packed[(((k/Block*(c.C/Block)+ci/Block)*c.R*c.S+t)*Block+ci%Block)*Block+k%Block]
				}
			}
		}
	}
}

// Epilogue is what a forward convolution does to its output tile before
// storing it (see asm's flags): add a per-channel Bias and a Residual
// (laid out as the output), clamp at zero (ReLU), and accumulate the
// per-channel Sum and sum of squares Sq of the result (length K, added
// to, not overwritten).
type Epilogue struct {
	Bias, Residual []float32
	ReLU           bool
	Sum, Sq        []float64
}

// direct is a forward-shaped convolution on blocked tensors (or a plain
// input):
//
//	y[i][ko][oy][ox] = Σ in[i][ci][oy·stride+ty−padH][ox·stride+tx−padW] · w[ko][ci][ty][tx]
//
// over th×tw taps. The data gradient runs as one or four of them, which
// write every pixel or every other one of a larger tensor.
type direct struct {
	t                    tile
	n, cin, kout         int
	inH, inW, outH, outW int
	th, tw, stride       int
	padH, padW           int
	plain                bool // input plain NCHW (Pixels kernels)
	x, w, y              []float32
	// Output addressing, in floats: y[yOff + i·yImage + blk·yPlane +
	// oy·yRow + ox·yPix·Block].
	yOff, yImage, yPlane, yRow, yPix int
	flags                            int
	bias, res                        []float32
	sum, sq                          []float64
}

func (d *direct) xImage() int { return d.cin * d.inH * d.inW }

// wBlock is the floats of packed weights per output block.
func (d *direct) wBlock() int { return d.cin * d.th * d.tw * Block }

func (d *direct) run() {
	per := d.t.channels()
	groups := d.kout / per
	tasks := d.n * groups * d.outH
	ws := make([]worker, parts(tasks))
	parallelParts(tasks, func(part, lo, hi int) {
		w := &ws[part]
		if d.flags&asm.Stats != 0 {
			w.sum, w.sq = make([]float32, d.kout), make([]float32, d.kout)
		}
		for task := lo; task < hi; task++ {
			i, g, oy := task/(groups*d.outH), task/d.outH%groups, task%d.outH
			d.row(w, i, g, oy)
		}
	})
	for _, w := range ws {
		for k := range w.sum {
			d.sum[k] += float64(w.sum[k])
			d.sq[k] += float64(w.sq[k])
		}
	}
}

// worker is one part's kernel arguments and partial statistics.
type worker struct {
	p       outerArgs
	sum, sq []float32
}

// row computes output row oy of image i, channel group g.
func (d *direct) row(p *worker, i, g, oy int) {
	iy := oy*d.stride - d.padH
	tylo, tyhi := max(0, -iy), min(d.th, d.inH-iy)
	if tylo >= tyhi {
		d.zero(i, g, oy, 0, d.outW)
		return
	}
	ox := 0
	for _, r := range split(d.outW, d.t.maxR) {
		d.tile(p, i, g, oy, ox, r, tylo, tyhi-tylo)
		ox += r
	}
}

// tile computes r output pixels from ox on.
func (d *direct) tile(p *worker, i, g, oy, ox, r, ty, nty int) {
	ix := ox*d.stride - d.padW
	// Taps valid for every pixel of the tile, and the pixels each other
	// tap is valid for.
	txlo, txhi := max(0, -ix), min(d.tw, d.inW-(ix+(r-1)*d.stride))
	if txlo >= txhi {
		if r > 1 {
			d.tile(p, i, g, oy, ox, r/2, ty, nty)
			d.tile(p, i, g, oy, ox+r/2, r-r/2, ty, nty)
			return
		}
		d.zero(i, g, oy, ox, 1)
		return
	}
	flags := d.flags
	border := txlo > 0 || txhi < d.tw
	if border {
		d.zero(i, g, oy, ox, r)
		flags |= asm.Load
		for tx := range d.tw {
			if tx >= txlo && tx < txhi {
				continue
			}
			// Pixels j with 0 ≤ ix + j·stride + tx < inW.
			jlo := max(0, ceilDiv(-ix-tx, d.stride))
			jhi := min(r-1, floorDiv(d.inW-1-ix-tx, d.stride))
			if jlo <= jhi {
				d.call(p, i, g, oy, ox+jlo, jhi-jlo+1, ty, nty, tx, 1, asm.Load)
			}
		}
	}
	d.call(p, i, g, oy, ox, r, ty, nty, txlo, txhi-txlo, flags)
}

func ceilDiv(a, b int) int  { return -floorDiv(-a, b) }
func floorDiv(a, b int) int { return (a - ((a%b)+b)%b) / b }

// zero clears r output pixels from ox on (pixels no tap reaches).
func (d *direct) zero(i, g, oy, ox, r int) {
	if d.flags&^asm.Load != 0 {
		panic("kernels: an output pixel of a convolution with an epilogue sees no input")
	}
	per := d.t.channels()
	for b := g * per / Block; b < (g+1)*per/Block; b++ {
		for j := range r {
			at := d.yOff + i*d.yImage + b*d.yPlane + oy*d.yRow + (ox+j)*d.yPix*Block
			clear(d.y[at : at+Block])
		}
	}
}

// call runs the kernel on r pixels from ox, taps ty.. (nty rows) and
// tx.. (ntx columns).
func (d *direct) call(w *worker, i, g, oy, ox, r, ty, nty, tx, ntx, flags int) {
	p := &w.p
	iy, ix := oy*d.stride-d.padH+ty, ox*d.stride-d.padW+tx
	per := d.t.channels()
	kb := g * per / Block // first output block
	at := d.yOff + i*d.yImage + kb*d.yPlane + oy*d.yRow + ox*d.yPix*Block
	p.c = unsafe.Pointer(&d.y[at])
	p.cBlock = 4 * d.yPlane
	p.bBlock = 4 * d.wBlock()
	p.flags = flags
	if flags&asm.Bias != 0 {
		p.bias = unsafe.Pointer(&d.bias[g*per])
	}
	if flags&asm.Residual != 0 {
		p.res = unsafe.Pointer(&d.res[at])
	}
	if flags&asm.Stats != 0 {
		p.sum, p.sq = unsafe.Pointer(&w.sum[g*per]), unsafe.Pointer(&w.sq[g*per])
	}
	plane := d.inH * d.inW
	if d.plain {
		p.a = unsafe.Pointer(&d.x[i*d.xImage()+iy*d.inW+ix])
		p.b = unsafe.Pointer(&d.w[kb*d.wBlock()+(ty*d.tw+tx)*Block])
		p.setLoops(asm.Pixels,
			loop{ntx, 4, 4 * Block},
			loop{nty, 4 * d.inW, 4 * d.tw * Block},
			loop{d.cin, 4 * plane, 4 * d.th * d.tw * Block})
	} else {
		p.a = unsafe.Pointer(&d.x[i*d.xImage()+(iy*d.inW+ix)*Block])
		p.b = unsafe.Pointer(&d.w[kb*d.wBlock()+(ty*d.tw+tx)*Block*Block])
		p.setLoops(asm.Channels,
			loop{d.cin / Block, 4 * plane * Block, 4 * d.th * d.tw * Block * Block},
			loop{ntx, 4 * Block, 4 * Block * Block},
			loop{nty, 4 * d.inW * Block, 4 * d.tw * Block * Block})
	}
	d.t.run(r, p)
}

func check(c ref.Conv, what string, lens ...int) {
	if c.N < 1 || c.C < 1 || c.K%Block != 0 || c.K < Block || c.R < 1 || c.S < 1 || c.Stride < 1 || c.Stride > 2 ||
		c.Pad < 0 || c.Pad >= c.R || c.Pad >= c.S || c.P() < 1 || c.Q() < 1 {
		panic(fmt.Sprintf("kernels.%s: unsupported convolution %v", what, c))
	}
	want := []int{c.N * c.C * c.H * c.W, WeightsLen(c), c.N * c.K * c.P() * c.Q()}
	for i, n := range lens {
		if n != want[i] {
			panic(fmt.Sprintf("kernels.%s: %v: operand %d has %d values, want %d", what, c, i, n, want[i]))
		}
	}
}

// ConvForward computes y = conv(x, w) for blocked x and y (x plain if
// Plain(c)) and packed weights w, then applies e.
func ConvForward(isa ISA, c ref.Conv, x, w, y []float32, e Epilogue) {
	check(c, "ConvForward", len(x), len(w), len(y))
	shape := asm.OuterShape{Kind: asm.Channels, ARow: 64 * c.Stride, CRow: 64}
	if Plain(c) {
		shape = asm.OuterShape{Kind: asm.Pixels, ARow: 4 * c.Stride, CRow: 64}
	}
	d := &direct{
		t: tileFor(isa, shape, c.K), n: c.N, cin: c.C, kout: c.K,
		inH: c.H, inW: c.W, outH: c.P(), outW: c.Q(), th: c.R, tw: c.S, stride: c.Stride, padH: c.Pad, padW: c.Pad,
		plain: Plain(c), x: x, w: w, y: y,
		yImage: c.K * c.P() * c.Q(), yPlane: c.P() * c.Q() * Block, yRow: c.Q() * Block, yPix: 1,
		bias: e.Bias, res: e.Residual, sum: e.Sum, sq: e.Sq,
	}
	if e.Bias != nil {
		d.flags |= asm.Bias
	}
	if e.Residual != nil {
		d.flags |= asm.Residual
	}
	if e.ReLU {
		d.flags |= asm.ReLU
	}
	if e.Sum != nil {
		d.flags |= asm.Stats
	}
	d.run()
}
