package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type normShape struct{ n, c, hw int }

func (s normShape) String() string { return fmt.Sprintf("n%d_c%d_hw%d", s.n, s.c, s.hw) }

var bnShapes = []normShape{{1, 1, 2}, {2, 3, 5}, {1, 5, 4}, {3, 2, 1}, {4, 3, 6}, {2, 17, 3}}

// naiveBNStats computes mean and biased variance per channel from the
// definitions, as E[x²] - E[x]² to differ from the two-pass code.
func naiveBNStats(n, c, hw int, x []float64) (mean, variance []float64) {
	mean, variance = make([]float64, c), make([]float64, c)
	m := float64(n * hw)
	for ch := range c {
		var s, ss float64
		for i := range n {
			for j := range hw {
				v := x[(i*c+ch)*hw+j]
				s += v
				ss += v * v
			}
		}
		mean[ch] = s / m
		variance[ch] = ss/m - mean[ch]*mean[ch]
	}
	return mean, variance
}

// bnTrain runs batch-statistics BN forward and backward in T.
func bnTrain[T Float](s normShape, x, gamma, beta, dy []float64, eps float64) (y, mean, variance, dx, dgamma, dbeta []float64) {
	xt, mt, vt := as[T](x), make([]T, s.c), make([]T, s.c)
	yt := make([]T, len(x))
	BNStats(s.n, s.c, s.hw, xt, mt, vt)
	BNApply(s.n, s.c, s.hw, xt, mt, vt, T(eps), as[T](gamma), as[T](beta), yt)
	dxt, dgt, dbt := make([]T, len(x)), make([]T, s.c), make([]T, s.c)
	BNBackward(s.n, s.c, s.hw, xt, as[T](dy), mt, vt, T(eps), as[T](gamma), dxt, dgt, dbt)
	return f64(yt), f64(mt), f64(vt), f64(dxt), f64(dgt), f64(dbt)
}

func TestBNStats(t *testing.T) {
	for _, s := range bnShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(s.c)))
			x := randSlice(rng, s.n*s.c*s.hw)
			for i := range x {
				x[i] += 3 // an offset, so that the variance is small relative to the mean
			}
			mean, variance := make([]float64, s.c), make([]float64, s.c)
			BNStats(s.n, s.c, s.hw, x, mean, variance)
			wantMean, wantVar := naiveBNStats(s.n, s.c, s.hw, x)
			if d := maxRelDiff(mean, wantMean); d > 1e-12 {
				t.Errorf("mean differs by %g", d)
			}
			if d := maxRelDiff(variance, wantVar); d > 1e-12 {
				t.Errorf("variance differs by %g", d)
			}
		})
	}
}

func TestBNGradient(t *testing.T) {
	const eps = 1e-5
	for _, s := range bnShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(s.c)))
			x, r := randSlice(rng, s.n*s.c*s.hw), randSlice(rng, s.n*s.c*s.hw)
			gamma, beta := randSlice(rng, s.c), randSlice(rng, s.c)
			loss := func() float64 {
				y, _, _, _, _, _ := bnTrain[float64](s, x, gamma, beta, r, eps)
				return dot(y, r)
			}
			_, _, _, dx, dgamma, dbeta := bnTrain[float64](s, x, gamma, beta, r, eps)
			checkGrad(t, "dx", x, dx, loss)
			checkGrad(t, "dgamma", gamma, dgamma, loss)
			checkGrad(t, "dbeta", beta, dbeta, loss)

			// Each output alone, the others nil, and dx in place of dy.
			dx2, dg2, db2 := append([]float64(nil), r...), make([]float64, s.c), make([]float64, s.c)
			mean, variance := make([]float64, s.c), make([]float64, s.c)
			BNStats(s.n, s.c, s.hw, x, mean, variance)
			BNBackward(s.n, s.c, s.hw, x, dx2, mean, variance, eps, gamma, dx2, nil, nil)
			BNBackward(s.n, s.c, s.hw, x, r, mean, variance, eps, gamma, nil, dg2, nil)
			BNBackward(s.n, s.c, s.hw, x, r, mean, variance, eps, gamma, nil, nil, db2)
			if maxRelDiff(dx2, dx) != 0 || maxRelDiff(dg2, dgamma) != 0 || maxRelDiff(db2, dbeta) != 0 {
				t.Error("gradients computed one at a time differ")
			}
		})
	}
}

func TestBNFrozenGradient(t *testing.T) {
	const eps = 1e-3
	for _, s := range bnShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(s.c)))
			x, r := randSlice(rng, s.n*s.c*s.hw), randSlice(rng, s.n*s.c*s.hw)
			gamma, beta, mean := randSlice(rng, s.c), randSlice(rng, s.c), randSlice(rng, s.c)
			variance := positive(rng, s.c, 0.1, 2)
			y := make([]float64, len(x))
			loss := func() float64 {
				BNApply(s.n, s.c, s.hw, x, mean, variance, eps, gamma, beta, y)
				return dot(y, r)
			}
			dx, dgamma, dbeta := make([]float64, len(x)), make([]float64, s.c), make([]float64, s.c)
			BNBackwardFrozen(s.n, s.c, s.hw, x, r, mean, variance, eps, gamma, dx, dgamma, dbeta)
			checkGrad(t, "dx", x, dx, loss)
			checkGrad(t, "dgamma", gamma, dgamma, loss)
			checkGrad(t, "dbeta", beta, dbeta, loss)

			dx2 := make([]float64, len(x))
			BNBackwardFrozen(s.n, s.c, s.hw, x, r, mean, variance, eps, gamma, dx2, nil, nil)
			if maxRelDiff(dx2, dx) != 0 {
				t.Error("dx alone differs")
			}
		})
	}
}

func TestBNApply(t *testing.T) {
	// One channel of four values: mean 2.5, variance 1.25.
	x := []float64{1, 2, 3, 4}
	mean, variance := []float64{2.5}, []float64{1.25}
	y := make([]float64, 4)
	BNApply(1, 1, 4, x, mean, variance, 0, []float64{2}, []float64{1}, y)
	for i, v := range x {
		want := (v-2.5)/math.Sqrt(1.25)*2 + 1
		if relDiff(y[i], want) > 1e-15 {
			t.Errorf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
	BNApply(1, 1, 4, x, mean, variance, 0, []float64{2}, []float64{1}, x) // in place
	if maxRelDiff(x, y) != 0 {
		t.Errorf("in place: got %v, want %v", x, y)
	}
}

func TestBNFloat32(t *testing.T) {
	s := normShape{8, 5, 49}
	rng := rand.New(rand.NewPCG(4, 4))
	x, dy := randSlice(rng, s.n*s.c*s.hw), randSlice(rng, s.n*s.c*s.hw)
	gamma, beta := randSlice(rng, s.c), randSlice(rng, s.c)
	y, m, v, dx, dg, db := bnTrain[float64](s, x, gamma, beta, dy, 1e-5)
	y32, m32, v32, dx32, dg32, db32 := bnTrain[float32](s, x, gamma, beta, dy, 1e-5)
	compareOutputs(t, []string{"y", "mean", "variance", "dx", "dgamma", "dbeta"},
		[][]float64{y32, m32, v32, dx32, dg32, db32}, [][]float64{y, m, v, dx, dg, db}, 1e-5)
}

func TestUpdateRunning(t *testing.T) {
	tests := []struct {
		name              string
		momentum          float64
		m                 int
		mean, variance    float64
		runMean, runVar   float64
		wantMean, wantVar float64
	}{
		{"unbiased", 0.1, 4, 3, 3, 1, 2, 1.2, 1.8 + 0.1*3*4/3},
		{"momentum 1", 1, 2, 5, 1, 0, 0, 5, 2},
		{"momentum 0", 0, 10, 5, 1, 7, 8, 7, 8},
		{"m 1", 0.5, 1, 2, 4, 0, 0, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm, rv := []float64{tt.runMean}, []float64{tt.runVar}
			UpdateRunning(tt.momentum, tt.m, rm, rv, []float64{tt.mean}, []float64{tt.variance})
			if relDiff(rm[0], tt.wantMean) > 1e-15 || relDiff(rv[0], tt.wantVar) > 1e-15 {
				t.Errorf("got (%v, %v), want (%v, %v)", rm[0], rv[0], tt.wantMean, tt.wantVar)
			}
		})
	}
}

type gnShape struct{ n, c, hw, groups int }

func (s gnShape) String() string {
	return fmt.Sprintf("n%d_c%d_hw%d_g%d", s.n, s.c, s.hw, s.groups)
}

var gnShapes = []gnShape{{1, 1, 3, 1}, {2, 4, 5, 2}, {1, 6, 4, 3}, {3, 6, 2, 6}, {2, 9, 1, 3}, {2, 5, 7, 1}}

// naiveGN computes group normalization from the definitions.
func naiveGN(s gnShape, x, gamma, beta []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	cg := s.c / s.groups
	for i := range s.n {
		for g := range s.groups {
			var sum, ss float64
			m := float64(cg * s.hw)
			for k := range cg * s.hw {
				sum += x[(i*s.c+g*cg)*s.hw+k]
			}
			mu := sum / m
			for k := range cg * s.hw {
				d := x[(i*s.c+g*cg)*s.hw+k] - mu
				ss += d * d
			}
			sd := math.Sqrt(ss/m + eps)
			for k := range cg * s.hw {
				ch := g*cg + k/s.hw
				j := (i*s.c+g*cg)*s.hw + k
				y[j] = (x[j]-mu)/sd*gamma[ch] + beta[ch]
			}
		}
	}
	return y
}

// gn runs GN forward and backward in T.
func gn[T Float](s gnShape, x, gamma, beta, dy []float64, eps float64) (y, dx, dgamma, dbeta []float64) {
	xt, yt := as[T](x), make([]T, len(x))
	mean, rstd := make([]T, s.n*s.groups), make([]T, s.n*s.groups)
	GNForward(s.n, s.c, s.hw, s.groups, xt, T(eps), as[T](gamma), as[T](beta), yt, mean, rstd)
	dxt, dgt, dbt := make([]T, len(x)), make([]T, s.c), make([]T, s.c)
	GNBackward(s.n, s.c, s.hw, s.groups, xt, as[T](dy), mean, rstd, as[T](gamma), dxt, dgt, dbt)
	return f64(yt), f64(dxt), f64(dgt), f64(dbt)
}

func TestGNForward(t *testing.T) {
	for _, s := range gnShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(s.c)))
			x, gamma, beta := randSlice(rng, s.n*s.c*s.hw), randSlice(rng, s.c), randSlice(rng, s.c)
			y, _, _, _ := gn[float64](s, x, gamma, beta, x, 1e-5)
			if d := maxRelDiff(y, naiveGN(s, x, gamma, beta, 1e-5)); d > 1e-12 {
				t.Errorf("y differs by %g", d)
			}
		})
	}
}

func TestGNGradient(t *testing.T) {
	const eps = 1e-5
	for _, s := range gnShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(6, uint64(s.c)))
			x, r := randSlice(rng, s.n*s.c*s.hw), randSlice(rng, s.n*s.c*s.hw)
			gamma, beta := randSlice(rng, s.c), randSlice(rng, s.c)
			loss := func() float64 {
				y, _, _, _ := gn[float64](s, x, gamma, beta, r, eps)
				return dot(y, r)
			}
			_, dx, dgamma, dbeta := gn[float64](s, x, gamma, beta, r, eps)
			checkGrad(t, "dx", x, dx, loss)
			checkGrad(t, "dgamma", gamma, dgamma, loss)
			checkGrad(t, "dbeta", beta, dbeta, loss)

			// dx alone and in place of dy.
			y, mean, rstd := make([]float64, len(x)), make([]float64, s.n*s.groups), make([]float64, s.n*s.groups)
			GNForward(s.n, s.c, s.hw, s.groups, x, eps, gamma, beta, y, mean, rstd)
			dx2 := append([]float64(nil), r...)
			GNBackward(s.n, s.c, s.hw, s.groups, x, dx2, mean, rstd, gamma, dx2, nil, nil)
			if maxRelDiff(dx2, dx) != 0 {
				t.Error("dx alone differs")
			}
		})
	}
}

func TestGNFloat32(t *testing.T) {
	s := gnShape{4, 12, 49, 4}
	rng := rand.New(rand.NewPCG(7, 7))
	x, dy := randSlice(rng, s.n*s.c*s.hw), randSlice(rng, s.n*s.c*s.hw)
	gamma, beta := randSlice(rng, s.c), randSlice(rng, s.c)
	y, dx, dg, db := gn[float64](s, x, gamma, beta, dy, 1e-5)
	y32, dx32, dg32, db32 := gn[float32](s, x, gamma, beta, dy, 1e-5)
	compareOutputs(t, []string{"y", "dx", "dgamma", "dbeta"},
		[][]float64{y32, dx32, dg32, db32}, [][]float64{y, dx, dg, db}, 1e-5)
}

func TestNormPanics(t *testing.T) {
	x, c := make([]float32, 24), make([]float32, 3)
	g := make([]float32, 4)
	expectPanic(t, "BNStats short mean", func() { BNStats(2, 3, 4, x, c[:2], c) })
	expectPanic(t, "BNApply short y", func() { BNApply(2, 3, 4, x, c, c, 1e-5, c, c, x[1:]) })
	expectPanic(t, "BNBackward short dgamma", func() { BNBackward(2, 3, 4, x, x, c, c, 1e-5, c, nil, c[1:], nil) })
	expectPanic(t, "UpdateRunning short runVar", func() { UpdateRunning(0.1, 8, c, c[1:], c, c) })
	expectPanic(t, "GNForward bad groups", func() { GNForward(2, 3, 4, 2, x, 1e-5, c, c, x, g, g) })
	expectPanic(t, "GNBackward short rstd", func() { GNBackward(2, 3, 4, 1, x, x, g[:2], g[:1], c, x, nil, nil) })
}

func BenchmarkBN(b *testing.B) {
	const n, c, hw = 64, 16, 28 * 28
	rng := rand.New(rand.NewPCG(8, 8))
	x, dy := toFloat32(randSlice(rng, n*c*hw)), toFloat32(randSlice(rng, n*c*hw))
	gamma, beta := toFloat32(randSlice(rng, c)), toFloat32(randSlice(rng, c))
	mean, variance, dgamma, dbeta := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	y, dx := make([]float32, n*c*hw), make([]float32, n*c*hw)
	b.Run("Forward", func(b *testing.B) {
		for b.Loop() {
			BNStats(n, c, hw, x, mean, variance)
			BNApply(n, c, hw, x, mean, variance, 1e-5, gamma, beta, y)
		}
	})
	b.Run("Backward", func(b *testing.B) {
		for b.Loop() {
			BNBackward(n, c, hw, x, dy, mean, variance, 1e-5, gamma, dx, dgamma, dbeta)
		}
	})
}
