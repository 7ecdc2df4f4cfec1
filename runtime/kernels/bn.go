package kernels

import "math"

// Whole normalization layers on blocked tensors (n images × c channels ×
// hw pixels, NCHW16c), built from the streaming kernels of norm.go: the
// same contracts as runtime/ref's BNStats, BNApply, BNBackward(Frozen),
// GNForward and GNBackward, plus an optional ReLU after the layer (relu
// forward; mask, the ReLU's output, backward). Sums are taken per image
// in the kernels and added up in float64.

// BNStats computes the mean and biased variance of each channel of x over
// images and pixels.
func BNStats(isa ISA, n, c, hw int, x, mean, variance []float32) {
	sum, sq, release := sumPair(n * c)
	defer release()
	ChannelSums(isa, n, c, hw, x, sum, sq)
	cnt := float64(n * hw)
	for ch := range c {
		var s, q float64
		for i := range n {
			s, q = s+sum[i*c+ch], q+sq[i*c+ch]
		}
		mu := s / cnt
		mean[ch], variance[ch] = float32(mu), float32(max(0, q/cnt-mu*mu))
	}
}

// rstd is 1/sqrt(variance+eps) in float64.
func rstd(variance, eps float32) float64 { return 1 / math.Sqrt(float64(variance)+float64(eps)) }

// BNApply sets y = (x−mean)/sqrt(variance+eps)·gamma + beta per channel,
// then max(0, ·) if relu. y may alias x.
func BNApply(isa ISA, n, c, hw int, x, mean, variance []float32, eps float32, gamma, beta []float32, relu bool, y []float32) {
	scale, shift := make([]float32, c), make([]float32, c)
	for ch := range c {
		r := float64(gamma[ch]) * rstd(variance[ch], eps)
		scale[ch], shift[ch] = float32(r), float32(float64(beta[ch])-float64(mean[ch])*r)
	}
	Affine(isa, n, c, hw, x, scale, shift, false, relu, y)
}

// BNBackward computes the gradients of BNApply (and of the ReLU after it
// if mask, its output, is not nil): with frozen statistics (running ones)
// as constants, else as the batch statistics of x. It overwrites dy with
// the gradient below the ReLU, and dx, dgamma and dbeta; any of those
// may be nil, and dx may alias dy.
func BNBackward(isa ISA, n, c, hw int, x, dy, mask, mean, variance []float32, eps float32, gamma []float32, frozen bool, dx, dgamma, dbeta []float32) {
	sdz, sdzx, release := sumPair(n * c)
	defer release()
	BackwardReduce(isa, n, c, hw, dy, x, mask, dy, sdz, sdzx)
	a, b, k := make([]float32, c), make([]float32, c), make([]float32, c)
	cnt := float64(n * hw)
	for ch := range c {
		var s, sx float64
		for i := range n {
			s, sx = s+sdz[i*c+ch], sx+sdzx[i*c+ch]
		}
		mu, r := float64(mean[ch]), rstd(variance[ch], eps)
		dg := (sx - mu*s) * r // Σdz·x̂
		if dgamma != nil {
			dgamma[ch] = float32(dg)
		}
		if dbeta != nil {
			dbeta[ch] = float32(s)
		}
		// dx = γr·(dz − Σdz/m − x̂·Σdz·x̂/m) = a·dz + b·x + k.
		kk := float64(gamma[ch]) * r
		a[ch] = float32(kk)
		if !frozen {
			b[ch] = float32(-kk * r * dg / cnt)
			k[ch] = float32(-kk*s/cnt + kk*r*dg*mu/cnt)
		}
	}
	if dx == nil {
		return
	}
	if frozen {
		BackwardApply(isa, n, c, hw, dy, nil, a, nil, nil, false, dx)
		return
	}
	BackwardApply(isa, n, c, hw, dy, x, a, b, k, false, dx)
}

// GNForward is group normalization of x (statistics per image and group
// of c/groups consecutive channels, affine per channel), then max(0, ·)
// if relu. It writes y and, for GNBackward, the mean and rstd of each
// image and group (n·groups entries). y may alias x.
func GNForward(isa ISA, n, c, hw, groups int, x []float32, eps float32, gamma, beta []float32, relu bool, y, mean, rstdOut []float32) {
	sum, sq, release := sumPair(n * c)
	defer release()
	ChannelSums(isa, n, c, hw, x, sum, sq)
	scale, shift := make([]float32, n*c), make([]float32, n*c)
	cg := c / groups
	size := float64(cg * hw)
	for ig := range n * groups {
		var s, q float64
		for j := ig * cg; j < (ig+1)*cg; j++ {
			s, q = s+sum[j], q+sq[j]
		}
		mu := s / size
		r := 1 / math.Sqrt(max(0, q/size-mu*mu)+float64(eps))
		mean[ig], rstdOut[ig] = float32(mu), float32(r)
		for j := ig * cg; j < (ig+1)*cg; j++ {
			g := float64(gamma[j%c]) * r
			scale[j], shift[j] = float32(g), float32(float64(beta[j%c])-mu*g)
		}
	}
	Affine(isa, n, c, hw, x, scale, shift, true, relu, y)
}

// GNBackward computes the gradients of GNForward (and of the ReLU after
// it if mask, its output, is not nil) under the rules of BNBackward.
func GNBackward(isa ISA, n, c, hw, groups int, x, dy, mask, mean, rstdIn, gamma, dx, dgamma, dbeta []float32) {
	sdz, sdzx, release := sumPair(n * c)
	defer release()
	BackwardReduce(isa, n, c, hw, dy, x, mask, dy, sdz, sdzx)
	if dgamma != nil {
		clear(dgamma)
	}
	if dbeta != nil {
		clear(dbeta)
	}
	a, b, k := make([]float32, n*c), make([]float32, n*c), make([]float32, n*c)
	cg := c / groups
	size := float64(cg * hw)
	for ig := range n * groups {
		mu, r := float64(mean[ig]), float64(rstdIn[ig])
		var sg, sgx float64 // Σγ·dz and Σγ·dz·x̂ over the group
		for j := ig * cg; j < (ig+1)*cg; j++ {
			ch := j % c
			dxhat := (sdzx[j] - mu*sdz[j]) * r // Σdz·x̂ of this image and channel
			sg += float64(gamma[ch]) * sdz[j]
			sgx += float64(gamma[ch]) * dxhat
			if dgamma != nil {
				dgamma[ch] += float32(dxhat)
			}
			if dbeta != nil {
				dbeta[ch] += float32(sdz[j])
			}
		}
		// dx = r·(γdz − Σγdz/m − x̂·Σγdz·x̂/m) = a·dz + b·x + k.
		for j := ig * cg; j < (ig+1)*cg; j++ {
			a[j] = float32(r * float64(gamma[j%c]))
			b[j] = float32(-r * r * sgx / size)
			k[j] = float32(-r*sg/size + mu*r*r*sgx/size)
		}
	}
	if dx != nil {
		BackwardApply(isa, n, c, hw, dy, x, a, b, k, true, dx)
	}
}
