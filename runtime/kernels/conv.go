package kernels

import (
	"fmt"
	"unsafe"

	"github.com/netc/netc/runtime/kernels/abi"
	"github.com/netc/netc/runtime/ref"
)

// Block is the channel block of the NCHW16c layout.
const Block = 16

// ToBlocked copies n×c×hw plain NCHW values into dst in NCHW16c order; c
// must be a multiple of Block.
func ToBlocked(n, c, hw int, src, dst []float32) { reblock(n, c, hw, src, dst, true) }

// FromBlocked copies n×c×hw NCHW16c values into dst in plain NCHW order.
func FromBlocked(n, c, hw int, src, dst []float32) { reblock(n, c, hw, src, dst, false) }

func reblock(n, c, hw int, src, dst []float32, toBlocked bool) {
	Parallel(n*c/Block, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			plain, blocked := src[b*Block*hw:(b+1)*Block*hw], dst[b*Block*hw:(b+1)*Block*hw]
			if !toBlocked {
				plain, blocked = blocked, plain
			}
			for p := range hw {
				for j := range Block {
					if toBlocked {
						blocked[p*Block+j] = plain[j*hw+p]
					} else {
						plain[j*hw+p] = blocked[p*Block+j]
					}
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
func PackWeights(c ref.Conv, w, dst []float32) { repack(c, w, dst, false) }

// UnpackWeights is the inverse of PackWeights: it writes OIHW weights.
func UnpackWeights(c ref.Conv, packed, w []float32) { repack(c, w, packed, true) }

// repack copies between OIHW weights and packed ones, either way.
func repack(c ref.Conv, oihw, packed []float32, unpack bool) {
	rs := c.R * c.S
	Parallel(c.K/Block, func(lo, hi int) {
		for kb := lo; kb < hi; kb++ {
			for kk := range Block {
				src := oihw[(kb*Block+kk)*c.C*rs:][:c.C*rs]
				for ci := range c.C {
					// Packed index of (k, ci, tap 0), and its step per tap.
					at, step := (kb*c.C+ci)*rs*Block+kk, Block
					if !Plain(c) {
						at, step = ((kb*(c.C/Block)+ci/Block)*rs*Block+ci%Block)*Block+kk, Block*Block
					}
					for t, v := range src[ci*rs : (ci+1)*rs] {
						if unpack {
							src[ci*rs+t] = packed[at+t*step]
						} else {
							packed[at+t*step] = v
						}
					}
				}
			}
		}
	})
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
	plain                bool        // input plain NCHW (Pixels kernels)
	plan                 []abi.RowOp // the steps of a row of output pixels
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
	d.plan = abi.RowPlan(d.outW, d.inW, d.tw, d.stride, d.padW, d.t.maxR, d.flags)
	per := d.t.channels()
	groups := d.kout / per
	chunks := d.chunks()
	tasks := d.n * groups * len(chunks)
	ws := make([]worker, parts(tasks))
	parallelParts(tasks, func(part, lo, hi int) {
		w := &ws[part]
		if d.flags&abi.Stats != 0 {
			w.sum, w.sq = make([]float32, d.kout), make([]float32, d.kout)
		}
		// Consecutive tasks share a chunk of input rows (in cache), for
		// one channel group after the other.
		for task := lo; task < hi; task++ {
			i, ch, g := task/(groups*len(chunks)), chunks[task/groups%len(chunks)], task%groups
			d.rows(w, i, g, ch)
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
	p       abi.OuterArgs
	sum, sq []float32
}

// chunk is n consecutive output rows from oy that see the same tap rows
// ty..ty+nty-1: the kernel runs each tile of them in one call.
type chunk struct{ oy, n, ty, nty int }

// chunks splits the output rows into chunks of at most 8 rows (so that
// images × channel groups × chunks give the threads enough pieces of
// work) whose input rows fit in 128 KiB.
func (d *direct) chunks() []chunk {
	rowsPerChunk := max(1, min(8, (128<<10)/(4*d.cin*d.inW*d.stride)))
	var cs []chunk
	for oy := 0; oy < d.outH; {
		iy := oy*d.stride - d.padH
		c := chunk{oy: oy, n: 1, ty: max(0, -iy)}
		c.nty = min(d.th, d.inH-iy) - c.ty
		for oy+c.n < d.outH && c.n < rowsPerChunk {
			iy := (oy+c.n)*d.stride - d.padH
			if max(0, -iy) != c.ty || min(d.th, d.inH-iy)-c.ty != c.nty {
				break
			}
			c.n++
		}
		cs = append(cs, c)
		oy += c.n
	}
	return cs
}

// rows computes a chunk of rows of image i, channel group g, step by step
// of the row plan.
func (d *direct) rows(p *worker, i, g int, c chunk) {
	if c.nty <= 0 {
		d.unreached(i, g, c, 0, d.outW)
		return
	}
	for _, op := range d.plan {
		if op.NTx == 0 {
			d.zero(i, g, c, op.Ox, op.R)
		} else {
			d.call(p, i, g, c, op.Ox, op.R, op.Tx, op.NTx, op.Flags)
		}
	}
}

// unreached clears r output pixels from ox on, in each row of c, that no
// tap reaches (a data gradient's pixels that no output saw).
func (d *direct) unreached(i, g int, c chunk, ox, r int) {
	if d.flags != 0 {
		panic("kernels: an output pixel of a convolution with an epilogue sees no input")
	}
	d.zero(i, g, c, ox, r)
}

// zero clears r output pixels from ox on, in each row of c.
func (d *direct) zero(i, g int, c chunk, ox, r int) {
	per := d.t.channels()
	for b := g * per / Block; b < (g+1)*per/Block; b++ {
		for oy := c.oy; oy < c.oy+c.n; oy++ {
			for j := range r {
				at := d.yOff + i*d.yImage + b*d.yPlane + oy*d.yRow + (ox+j)*d.yPix*Block
				clear(d.y[at : at+Block])
			}
		}
	}
}

// call runs the kernel on r pixels from ox in each row of c, with the
// chunk's tap rows and the tap columns tx.. (ntx of them).
func (d *direct) call(w *worker, i, g int, c chunk, ox, r, tx, ntx, flags int) {
	p := &w.p
	iy, ix := c.oy*d.stride-d.padH+c.ty, ox*d.stride-d.padW+tx
	per := d.t.channels()
	kb := g * per / Block // first output block
	at := d.yOff + i*d.yImage + kb*d.yPlane + c.oy*d.yRow + ox*d.yPix*Block
	p.C = unsafe.Pointer(&d.y[at])
	p.CBlock = 4 * d.yPlane
	p.BBlock = 4 * d.wBlock()
	p.Flags = flags
	if flags&abi.Bias != 0 {
		p.Bias = unsafe.Pointer(&d.bias[g*per])
	}
	if flags&abi.Residual != 0 {
		p.Res = unsafe.Pointer(&d.res[at])
	}
	if flags&abi.Stats != 0 {
		p.Sum, p.Sq = unsafe.Pointer(&w.sum[g*per]), unsafe.Pointer(&w.sq[g*per])
	}
	plane := d.inH * d.inW
	pix := Block
	if d.plain {
		pix = 1
		p.A = unsafe.Pointer(&d.x[i*d.xImage()+iy*d.inW+ix])
		p.B = unsafe.Pointer(&d.w[kb*d.wBlock()+(c.ty*d.tw+tx)*Block])
		setLoops(p, abi.Pixels,
			loop{ntx, 4, 4 * Block},
			loop{c.nty, 4 * d.inW, 4 * d.tw * Block},
			loop{d.cin, 4 * plane, 4 * d.th * d.tw * Block})
	} else {
		p.A = unsafe.Pointer(&d.x[i*d.xImage()+(iy*d.inW+ix)*Block])
		p.B = unsafe.Pointer(&d.w[kb*d.wBlock()+(c.ty*d.tw+tx)*Block*Block])
		setLoops(p, abi.Channels,
			loop{d.cin / Block, 4 * plane * Block, 4 * d.th * d.tw * Block * Block},
			loop{ntx, 4 * Block, 4 * Block * Block},
			loop{c.nty, 4 * d.inW * Block, 4 * d.tw * Block * Block})
	}
	// One tile per row of the chunk.
	d.t.run(r, c.n, 4*d.stride*d.inW*pix, 4*d.yRow, p)
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
	convForward(isa, c, x, w, y, e, nil)
}

// convForward is ConvForward, with specialized kernels s unless nil.
func convForward(isa ISA, c ref.Conv, x, w, y []float32, e Epilogue, s *Special) {
	check(c, "ConvForward", len(x), len(w), len(y))
	shape := abi.OuterShape{Kind: abi.Channels, ARow: 64 * c.Stride, CRow: 64}
	if Plain(c) {
		shape = abi.OuterShape{Kind: abi.Pixels, ARow: 4 * c.Stride, CRow: 64}
	}
	d := &direct{
		t: tileFor(isa, shape, c.K), n: c.N, cin: c.C, kout: c.K,
		inH: c.H, inW: c.W, outH: c.P(), outW: c.Q(), th: c.R, tw: c.S, stride: c.Stride, padH: c.Pad, padW: c.Pad,
		plain: Plain(c), x: x, w: w, y: y,
		yImage: c.K * c.P() * c.Q(), yPlane: c.P() * c.Q() * Block, yRow: c.Q() * Block, yPix: 1,
		bias: e.Bias, res: e.Residual, sum: e.Sum, sq: e.Sq,
	}
	if e.Bias != nil {
		d.flags |= abi.Bias
	}
	if e.Residual != nil {
		d.flags |= abi.Residual
	}
	if e.ReLU {
		d.flags |= abi.ReLU
	}
	if e.Sum != nil {
		d.flags |= abi.Stats
	}
	if s != nil {
		s.check(isa, c, d.t)
		d.t.special = &specialRun{Special: s}
	}
	d.run()
	if s != nil {
		if m := d.t.special.mismatch.Load(); m != nil {
			// Kernels of another ABI version do not compile: within one,
			// asm's ForwardFixed and this driver disagree.
			panic(fmt.Sprintf("kernels: specialized kernels for %v have %s: asm.ConvSpec.ForwardFixed and the driver disagree", s.Conv, *m))
		}
	}
}

// ConvBackwardData computes the input gradient dx of c from the output
// gradient dy (blocked) and packed weights w: dx is blocked, or plain for
// a stem. With stride s it runs s² forward-shaped convolutions, one per
// phase of the input pixels (those with ih ≡ ph and iw ≡ pw mod s), each
// over the taps that reach that phase, flipped, with the weights
// transposed.
func ConvBackwardData(isa ISA, c ref.Conv, dy, w, dx []float32) {
	check(c, "ConvBackwardData", len(dx), len(w), len(dy))
	if Plain(c) {
		stemBackwardData(isa, c, dy, w, dx)
		return
	}
	s := c.Stride
	for ph := range s {
		for pw := range s {
			kh0, kw0 := (ph+c.Pad)%s, (pw+c.Pad)%s
			jh, jw := (c.R-kh0+s-1)/s, (c.S-kw0+s-1)/s
			d := &direct{
				t: tileFor(isa, abi.OuterShape{Kind: abi.Channels, ARow: 64, CRow: 64 * s}, c.C),
				n: c.N, cin: c.K, kout: c.C, inH: c.P(), inW: c.Q(),
				outH: (c.H - ph + s - 1) / s, outW: (c.W - pw + s - 1) / s, th: jh, tw: jw, stride: 1,
				padH: jh - 1 - (ph+c.Pad-kh0)/s, padW: jw - 1 - (pw+c.Pad-kw0)/s,
				x: dy, y: dx,
				yOff: (ph*c.W + pw) * Block, yImage: c.C * c.H * c.W, yPlane: c.H * c.W * Block, yRow: s * c.W * Block, yPix: s,
			}
			if d.outH == 0 || d.outW == 0 {
				continue
			}
			if jh == 0 || jw == 0 { // no tap reaches this phase
				d.t = tileFor(isa, d.t.shape, c.C)
				for i := range c.N {
					for g := range c.C / d.t.channels() {
						d.unreached(i, g, chunk{n: d.outH}, 0, d.outW)
					}
				}
				continue
			}
			// Transposed, flipped weights of the phase: c.C outputs, c.K inputs.
			wt := floats.get(c.C * c.K * jh * jw)
			d.w = *wt
			cb, kb := c.C/Block, c.K/Block
			Parallel(cb, func(lo, hi int) {
				for ci := lo; ci < hi; ci++ {
					for k := range kb {
						for th := range jh {
							for tw := range jw {
								kh, kw := kh0+s*(jh-1-th), kw0+s*(jw-1-tw)
								src := w[((k*cb+ci)*c.R*c.S+kh*c.S+kw)*Block*Block:][:Block*Block]
								dst := d.w[((ci*kb+k)*jh*jw+th*jw+tw)*Block*Block:][:Block*Block]
								for i := range Block {
									for j := range Block {
										dst[j*Block+i] = src[i*Block+j]
									}
								}
							}
						}
					}
				}
			})
			d.run()
			floats.put(wt)
		}
	}
}

// stemBackwardData is the input gradient of a stem: per image, the
// columns wᵀ·dy (one product per output block, on Sgemm) scattered back
// onto the plain input.
func stemBackwardData(isa ISA, c ref.Conv, dy, w, dx []float32) {
	scratch := floats.get(len(w))
	defer floats.put(scratch)
	oihw := *scratch
	UnpackWeights(c, w, oihw)
	crs, pq := c.C*c.R*c.S, c.P()*c.Q()
	Parallel(c.N, func(lo, hi int) {
		buf, plainDy := floats.get(crs*pq), floats.get(c.K*pq)
		defer floats.put(buf)
		defer floats.put(plainDy)
		cols := *buf
		for i := lo; i < hi; i++ {
			// cols = wᵀ·dy, with dy of the image made plain (K×pq).
			dyi := dy[i*c.K*pq : (i+1)*c.K*pq]
			for kb := range c.K / Block {
				blk, pl := dyi[kb*pq*Block:(kb+1)*pq*Block], (*plainDy)[kb*Block*pq:(kb+1)*Block*pq]
				for p := range pq {
					for j := range Block {
						pl[j*pq+p] = blk[p*Block+j]
					}
				}
			}
			a := ref.Matrix[float32]{Data: oihw, RS: 1, CS: crs}
			b := ref.Matrix[float32]{Data: *plainDy, RS: pq, CS: 1}
			Sgemm(isa, crs, pq, c.K, a, b, cols, pq, false)
			img := dx[i*c.C*c.H*c.W : (i+1)*c.C*c.H*c.W]
			clear(img)
			for row := range crs {
				ci, ty, tx := row/(c.R*c.S), row/c.S%c.R, row%c.S
				oy0, oy1 := validRange(c.P(), c.H, c.Stride, c.Pad, ty)
				ox0, ox1 := validRange(c.Q(), c.W, c.Stride, c.Pad, tx)
				if ox0 > ox1 {
					continue
				}
				for oy := oy0; oy <= oy1; oy++ {
					iy := oy*c.Stride - c.Pad + ty
					src := cols[row*pq+oy*c.Q()+ox0:][:ox1-ox0+1]
					dst := img[(ci*c.H+iy)*c.W+ox0*c.Stride-c.Pad+tx:]
					if c.Stride == 1 {
						dst = dst[:len(src)]
						for j, v := range src {
							dst[j] += v
						}
						continue
					}
					for j, v := range src {
						dst[j*c.Stride] += v
					}
				}
			}
		}
	})
}

// ConvBackwardWeight computes the weight gradient of c, in OIHW order,
// from the input x (blocked, or plain for a stem) and the output gradient
// dy (blocked). Work is split over output channel groups, input channels
// and taps, each summed over the whole batch in image order, so the
// result does not depend on the thread count.
func ConvBackwardWeight(isa ISA, c ref.Conv, x, dy, dw []float32) {
	check(c, "ConvBackwardWeight", len(x), len(dw), len(dy))
	t := tileFor(isa, abi.OuterShape{Kind: abi.Pixels, ARow: 4, CRow: 64}, c.K)
	groups := c.K / t.channels()
	scratch := floats.get(len(dw))
	defer floats.put(scratch)
	packed := *scratch
	clear(packed)
	wBlock := c.C * c.R * c.S * Block // packed floats per output block
	rowLen := 16                      // tile rows: the 16 channels of an input block
	chans := c.C / Block              // tasks per group and tap: input blocks
	if Plain(c) {
		rowLen, chans = c.S, c.C // rows: a row of taps; tasks: input channels
	}
	tasks := groups * chans * c.R
	if !Plain(c) {
		tasks *= c.S
	}
	pq, plane := c.P()*c.Q(), c.H*c.W
	// Tasks walk channels in blocks of wgradBlock, every group for each
	// block, taps innermost, so that a thread reuses the input blocks of a
	// channel block across groups and the output-gradient block of a group
	// across channels. Each call sums over a few images at once: as many
	// as keep a channel block's input and one group's output gradient in
	// 512 KiB.
	taps := c.R
	if !Plain(c) {
		taps *= c.S
	}
	imgs := max(1, 512<<10/(4*Block*(wgradBlock*plane+pq)))
	Parallel(tasks, func(lo, hi int) {
		var p abi.OuterArgs
		p.BBlock, p.CBlock, p.Flags = 4*pq*Block, 4*wBlock, abi.Load
		for i := 0; i < c.N; i += imgs {
			n := min(imgs, c.N-i) // images summed in one call
			for task := lo; task < hi; task++ {
				g, ch := blockedPair(task/taps, groups, chans)
				ty, tx := task%taps, 0
				if !Plain(c) {
					ty, tx = ty/c.S, ty%c.S
				}
				kb := g * t.channels() / Block
				oy0, oy1 := validRange(c.P(), c.H, c.Stride, c.Pad, ty)
				if oy0 > oy1 {
					continue
				}
				// call sums rows [r0, r0+r) over output pixels ox0..ox1 of rows oy0..oy1.
				call := func(r0, r, ox0, ox1 int) {
					iy, dyAt := oy0*c.Stride-c.Pad+ty, ((i*c.K/Block+kb)*pq+oy0*c.Q()+ox0)*Block
					if Plain(c) {
						ix := ox0*c.Stride - c.Pad + r0
						p.A = unsafe.Pointer(&x[(i*c.C+ch)*plane+iy*c.W+ix])
						p.C = unsafe.Pointer(&packed[kb*wBlock+((ch*c.R+ty)*c.S+r0)*Block])
						setLoops(&p, abi.Pixels, loop{ox1 - ox0 + 1, 4 * c.Stride, 4 * Block}, loop{oy1 - oy0 + 1, 4 * c.Stride * c.W, 4 * c.Q() * Block},
							loop{n, 4 * c.C * plane, 4 * c.K * pq})
					} else {
						ix := ox0*c.Stride - c.Pad + tx
						p.A = unsafe.Pointer(&x[((i*chans+ch)*plane+iy*c.W+ix)*Block+r0])
						p.C = unsafe.Pointer(&packed[kb*wBlock+((ch*c.R+ty)*c.S+tx)*Block*Block+r0*Block])
						setLoops(&p, abi.Pixels, loop{ox1 - ox0 + 1, 4 * c.Stride * Block, 4 * Block}, loop{oy1 - oy0 + 1, 4 * c.Stride * c.W * Block, 4 * c.Q() * Block},
							loop{n, 4 * c.C * plane, 4 * c.K * pq})
					}
					p.B = unsafe.Pointer(&dy[dyAt])
					t.run(r, 1, 0, 0, &p)
				}
				r0, k := 0, abi.TileCount(rowLen, t.maxR)
				for j := range k {
					r := (rowLen + j) / k
					if !Plain(c) {
						if ox0, ox1 := validRange(c.Q(), c.W, c.Stride, c.Pad, tx); ox0 <= ox1 {
							call(r0, r, ox0, ox1)
						}
						r0 += r
						continue
					}
					// Stem: rows are taps r0..r0+r-1; pixels valid for all
					// of them in one call, the rest tap by tap.
					lo0, _ := validRange(c.Q(), c.W, c.Stride, c.Pad, r0)
					_, hi1 := validRange(c.Q(), c.W, c.Stride, c.Pad, r0+r-1)
					if lo0 <= hi1 {
						call(r0, r, lo0, hi1)
					}
					for tap := r0; tap < r0+r; tap++ {
						a, b := validRange(c.Q(), c.W, c.Stride, c.Pad, tap)
						if lo0 > hi1 {
							if a <= b {
								call(tap, 1, a, b)
							}
							continue
						}
						if a < lo0 {
							call(tap, 1, a, min(b, lo0-1))
						}
						if b > hi1 {
							call(tap, 1, max(a, hi1+1), b)
						}
					}
					r0 += r
				}
			}
		}
	})
	UnpackWeights(c, packed, dw)
}

// wgradBlock is how many input channel blocks (or stem channels) the
// weight gradient's tasks walk together.
const wgradBlock = 8

// blockedPair is pair u of groups × chans in blocked order: blocks of
// wgradBlock channels, every group within a block, channels innermost.
func blockedPair(u, groups, chans int) (g, ch int) {
	full := chans / wgradBlock * wgradBlock
	if u < full*groups {
		b, r := u/(wgradBlock*groups), u%(wgradBlock*groups)
		return r / wgradBlock, b*wgradBlock + r%wgradBlock
	}
	u -= full * groups
	bs := chans - full
	return u / bs, full + u%bs
}

func ceilDiv(a, b int) int  { return -floorDiv(-a, b) }
func floorDiv(a, b int) int { return (a - ((a%b)+b)%b) / b }

// validRange is the output positions o in [0, out) whose input o·stride −
// pad + tap lies in [0, in).
func validRange(out, in, stride, pad, tap int) (lo, hi int) {
	return max(0, ceilDiv(pad-tap, stride)), min(out-1, floorDiv(in-1+pad-tap, stride))
}
