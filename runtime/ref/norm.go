package ref

import (
	"fmt"
	"math"
)

// Norm statistics are summed in float64 whatever T is, so that the
// reference stays accurate for large batches and images; the per-element
// arithmetic of the outputs is done in T.

// BNStats computes the batch statistics of x, viewed as n×c×hw: the mean
// and the biased variance (divided by n·hw) of each channel over n and hw.
func BNStats[T Float](n, c, hw int, x, mean, variance []T) {
	checkDims("BNStats", n, c, hw)
	checkLen("BNStats", "x", x, n*c*hw)
	checkLen("BNStats", "mean", mean, c)
	checkLen("BNStats", "variance", variance, c)
	m := float64(n * hw)
	forRange(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := range n {
				s += sum(x[(i*c+ch)*hw:][:hw])
			}
			mu := s / m
			var ss float64
			for i := range n {
				ss += sumSqDev(x[(i*c+ch)*hw:][:hw], mu)
			}
			mean[ch], variance[ch] = T(mu), T(ss/m)
		}
	})
}

// BNApply normalizes x, viewed as n×c×hw, per channel:
// y = (x-mean)/sqrt(variance+eps)·gamma + beta. It serves both with batch
// statistics and with running statistics. x and y may alias.
func BNApply[T Float](n, c, hw int, x, mean, variance []T, eps T, gamma, beta, y []T) {
	checkDims("BNApply", n, c, hw)
	checkLen("BNApply", "x", x, n*c*hw)
	checkLen("BNApply", "mean", mean, c)
	checkLen("BNApply", "variance", variance, c)
	checkLen("BNApply", "gamma", gamma, c)
	checkLen("BNApply", "beta", beta, c)
	checkLen("BNApply", "y", y, n*c*hw)
	forRange(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, b := mean[ch], beta[ch]
			s := T(float64(gamma[ch]) * rstd(variance[ch], eps))
			for i := range n {
				off := (i*c + ch) * hw
				yc := y[off : off+hw]
				for j, v := range x[off : off+hw] {
					yc[j] = (v-mu)*s + b
				}
			}
		}
	})
}

// rstd is 1/sqrt(variance+eps), in float64.
func rstd[T Float](variance, eps T) float64 {
	return 1 / math.Sqrt(float64(variance)+float64(eps))
}

// BNBackward computes the gradients of BNApply when mean and variance are
// the batch statistics of x (BNStats), and so depend on x. It overwrites
// dx, dgamma and dbeta; dx may be nil, and so may dgamma and dbeta, to skip
// them. dx may alias dy.
func BNBackward[T Float](n, c, hw int, x, dy, mean, variance []T, eps T, gamma, dx, dgamma, dbeta []T) {
	bnBackward("BNBackward", n, c, hw, x, dy, mean, variance, eps, gamma, dx, dgamma, dbeta, false)
}

// BNBackwardFrozen computes the gradients of BNApply when mean and variance
// are constants (running statistics), under the rules of BNBackward.
func BNBackwardFrozen[T Float](n, c, hw int, x, dy, mean, variance []T, eps T, gamma, dx, dgamma, dbeta []T) {
	bnBackward("BNBackwardFrozen", n, c, hw, x, dy, mean, variance, eps, gamma, dx, dgamma, dbeta, true)
}

// bnBackward is BNBackward, or BNBackwardFrozen if frozen.
//
// With x̂ = (x-mean)·rstd, the gradients are dbeta = Σdy, dgamma = Σdy·x̂
// and, through the affine part only, dx = gamma·rstd·dy. When the
// statistics are those of the batch (m values per channel), their
// gradients add up to dx = gamma·rstd·(dy - dbeta/m - x̂·dgamma/m).
func bnBackward[T Float](op string, n, c, hw int, x, dy, mean, variance []T, eps T, gamma, dx, dgamma, dbeta []T, frozen bool) {
	checkDims(op, n, c, hw)
	checkLen(op, "x", x, n*c*hw)
	checkLen(op, "dy", dy, n*c*hw)
	checkLen(op, "mean", mean, c)
	checkLen(op, "variance", variance, c)
	checkLen(op, "gamma", gamma, c)
	checkOpt(op, "dx", dx, n*c*hw)
	checkOpt(op, "dgamma", dgamma, c)
	checkOpt(op, "dbeta", dbeta, c)
	m := float64(n * hw)
	forRange(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, r := mean[ch], rstd(variance[ch], eps)
			var sdy, sdyx float64 // Σdy and Σdy·(x-mean)
			if !frozen || dgamma != nil || dbeta != nil {
				for i := range n {
					off := (i*c + ch) * hw
					a, b := sumDev(x[off:off+hw], dy[off:off+hw], float64(mu))
					sdy += a
					sdyx += b
				}
			}
			if dgamma != nil {
				dgamma[ch] = T(sdyx * r)
			}
			if dbeta != nil {
				dbeta[ch] = T(sdy)
			}
			if dx == nil {
				continue
			}
			k := T(float64(gamma[ch]) * r)
			mdy, kx := T(sdy/m), T(sdyx*r*r/m) // dbeta/m and dgamma·rstd/m
			for i := range n {
				off := (i*c + ch) * hw
				xc, dxc := x[off:off+hw], dx[off:off+hw]
				for j, d := range dy[off : off+hw] {
					if frozen {
						dxc[j] = k * d
					} else {
						dxc[j] = k * (d - mdy - (xc[j]-mu)*kx)
					}
				}
			}
		}
	})
}

// UpdateRunning moves the running statistics towards the batch statistics
// of m = n·hw values per channel: running = (1-momentum)·running +
// momentum·batch, the batch variance made unbiased (×m/(m-1)) as PyTorch
// does. With m = 1 the variance is taken as it is.
func UpdateRunning[T Float](momentum T, m int, runMean, runVar, mean, variance []T) {
	c := len(runMean)
	checkLen("UpdateRunning", "runVar", runVar, c)
	checkLen("UpdateRunning", "mean", mean, c)
	checkLen("UpdateRunning", "variance", variance, c)
	checkDims("UpdateRunning", m)
	unbias := 1.0
	if m > 1 {
		unbias = float64(m) / float64(m-1)
	}
	for ch := range c {
		runMean[ch] = (1-momentum)*runMean[ch] + momentum*mean[ch]
		runVar[ch] = (1-momentum)*runVar[ch] + momentum*T(float64(variance[ch])*unbias)
	}
}

// checkGroups panics unless groups divides c.
func checkGroups(op string, c, groups int) {
	if groups <= 0 || c%groups != 0 {
		panic(fmt.Sprintf("ref.%s: %d groups do not divide %d channels", op, groups, c))
	}
}

// GNForward is group normalization of x, viewed as n×c×hw: the statistics
// are taken per image and group of c/groups consecutive channels, the
// affine transform is per channel. It writes y and, for GNBackward, the
// mean and rstd = 1/sqrt(var+eps) of each image and group (n·groups
// entries; var is biased). x and y may alias.
func GNForward[T Float](n, c, hw, groups int, x []T, eps T, gamma, beta, y, mean, rstd []T) {
	checkDims("GNForward", n, c, hw)
	checkGroups("GNForward", c, groups)
	checkLen("GNForward", "x", x, n*c*hw)
	checkLen("GNForward", "gamma", gamma, c)
	checkLen("GNForward", "beta", beta, c)
	checkLen("GNForward", "y", y, n*c*hw)
	checkLen("GNForward", "mean", mean, n*groups)
	checkLen("GNForward", "rstd", rstd, n*groups)
	cg := c / groups
	size := cg * hw
	forRange(n*groups, func(lo, hi int) {
		for ig := lo; ig < hi; ig++ {
			xs := x[ig*size : (ig+1)*size]
			mu := sum(xs) / float64(size)
			r := 1 / math.Sqrt(sumSqDev(xs, mu)/float64(size)+float64(eps))
			mean[ig], rstd[ig] = T(mu), T(r)
			m := T(mu)
			ch0 := ig % groups * cg
			for k := range cg {
				ch := ch0 + k
				g, b := T(float64(gamma[ch])*r), beta[ch]
				yc := y[ig*size+k*hw:][:hw]
				for j, v := range xs[k*hw : (k+1)*hw] {
					yc[j] = (v-m)*g + b
				}
			}
		}
	})
}

// GNBackward computes the gradients of GNForward from its input x, the
// gradient dy of its output and the mean and rstd it wrote. It overwrites
// dx, dgamma and dbeta; any of them may be nil, to skip it. dx may alias
// dy.
//
// With x̂ = (x-mean)·rstd and g = gamma·dy, per image and group of m
// values, dx = rstd·(g - Σg/m - x̂·Σg·x̂/m); dgamma = Σdy·x̂ and dbeta = Σdy
// over images and pixels.
func GNBackward[T Float](n, c, hw, groups int, x, dy, mean, rstd, gamma, dx, dgamma, dbeta []T) {
	checkDims("GNBackward", n, c, hw)
	checkGroups("GNBackward", c, groups)
	checkLen("GNBackward", "x", x, n*c*hw)
	checkLen("GNBackward", "dy", dy, n*c*hw)
	checkLen("GNBackward", "mean", mean, n*groups)
	checkLen("GNBackward", "rstd", rstd, n*groups)
	checkLen("GNBackward", "gamma", gamma, c)
	checkOpt("GNBackward", "dx", dx, n*c*hw)
	checkOpt("GNBackward", "dgamma", dgamma, c)
	checkOpt("GNBackward", "dbeta", dbeta, c)
	cg := c / groups
	size := cg * hw
	if dgamma != nil || dbeta != nil {
		forRange(c, func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				var sdy, sdyx float64
				for i := range n {
					ig := i*groups + ch/cg
					off := (i*c + ch) * hw
					a, b := sumDev(x[off:off+hw], dy[off:off+hw], float64(mean[ig]))
					sdy += a
					sdyx += b * float64(rstd[ig])
				}
				if dgamma != nil {
					dgamma[ch] = T(sdyx)
				}
				if dbeta != nil {
					dbeta[ch] = T(sdy)
				}
			}
		})
	}
	if dx == nil {
		return
	}
	forRange(n*groups, func(lo, hi int) {
		for ig := lo; ig < hi; ig++ {
			mu, r := mean[ig], float64(rstd[ig])
			xs, dys := x[ig*size:(ig+1)*size], dy[ig*size:(ig+1)*size]
			ch0 := ig % groups * cg
			var sg, sgx float64 // Σg and Σg·(x-mean)
			for k := range cg {
				g := float64(gamma[ch0+k])
				a, b := sumDev(xs[k*hw:(k+1)*hw], dys[k*hw:(k+1)*hw], float64(mu))
				sg += g * a
				sgx += g * b
			}
			mg, kx := T(sg/float64(size)), T(sgx*r*r/float64(size))
			rt := T(r)
			dxs := dx[ig*size : (ig+1)*size]
			for k := range cg {
				g := gamma[ch0+k]
				xc, dxc := xs[k*hw:(k+1)*hw], dxs[k*hw:(k+1)*hw]
				for j, d := range dys[k*hw : (k+1)*hw] {
					dxc[j] = rt * (g*d - mg - (xc[j]-mu)*kx)
				}
			}
		}
	})
}

// The sums below keep four partial sums, which lets the adds overlap,
// and add them up in a fixed order.

// sum returns Σx in float64.
func sum[T Float](x []T) float64 {
	var s0, s1, s2, s3 float64
	for len(x) >= 4 {
		s0 += float64(x[0])
		s1 += float64(x[1])
		s2 += float64(x[2])
		s3 += float64(x[3])
		x = x[4:]
	}
	for _, v := range x {
		s0 += float64(v)
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev returns Σ(x-mu)² in float64.
func sumSqDev[T Float](x []T, mu float64) float64 {
	var s0, s1, s2, s3 float64
	for len(x) >= 4 {
		d0, d1, d2, d3 := float64(x[0])-mu, float64(x[1])-mu, float64(x[2])-mu, float64(x[3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		x = x[4:]
	}
	for _, v := range x {
		d := float64(v) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// sumDev returns Σdy and Σdy·(x-mu) in float64; x and dy have the same
// length.
func sumDev[T Float](x, dy []T, mu float64) (sdy, sdyx float64) {
	var a0, a1, b0, b1 float64
	x = x[:len(dy)]
	for len(dy) >= 2 && len(x) >= 2 {
		a0 += float64(dy[0])
		a1 += float64(dy[1])
		b0 += float64(dy[0]) * (float64(x[0]) - mu)
		b1 += float64(dy[1]) * (float64(x[1]) - mu)
		x, dy = x[2:], dy[2:]
	}
	for i, d := range dy {
		a0 += float64(d)
		b0 += float64(d) * (float64(x[i]) - mu)
	}
	return a0 + a1, b0 + b1
}
