package ref

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

type linearShape struct{ n, in, out int }

func (s linearShape) String() string { return fmt.Sprintf("n%d_in%d_out%d", s.n, s.in, s.out) }

var linearShapes = []linearShape{{1, 1, 1}, {1, 5, 3}, {3, 7, 10}, {17, 6, 5}, {4, 300, 9}}

// naiveLinear is Linear by its definition.
func naiveLinear(s linearShape, x, w, b []float64) []float64 {
	y := make([]float64, s.n*s.out)
	for i := range s.n {
		for o := range s.out {
			v := b[o]
			for j := range s.in {
				v += x[i*s.in+j] * w[o*s.in+j]
			}
			y[i*s.out+o] = v
		}
	}
	return y
}

// linear runs Linear and LinearBackward in T.
func linear[T Float](s linearShape, x, w, b, dy []float64) (y, dx, dw, db []float64) {
	xt, wt, dyt := as[T](x), as[T](w), as[T](dy)
	yt := make([]T, s.n*s.out)
	Linear(s.n, s.in, s.out, xt, wt, as[T](b), yt)
	dxt, dwt, dbt := make([]T, len(x)), make([]T, len(w)), make([]T, s.out)
	LinearBackward(s.n, s.in, s.out, xt, wt, dyt, dxt, dwt, dbt)
	return f64(yt), f64(dxt), f64(dwt), f64(dbt)
}

func TestLinear(t *testing.T) {
	for _, s := range linearShapes {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(s.in)))
			x, w := randSlice(rng, s.n*s.in), randSlice(rng, s.out*s.in)
			b, r := randSlice(rng, s.out), randSlice(rng, s.n*s.out)
			y, dx, dw, db := linear[float64](s, x, w, b, r)
			if d := maxRelDiff(y, naiveLinear(s, x, w, b)); d > 1e-12 {
				t.Errorf("y differs by %g", d)
			}
			loss := func() float64 {
				y, _, _, _ := linear[float64](s, x, w, b, r)
				return dot(y, r)
			}
			checkGrad(t, "dx", x, dx, loss)
			checkGrad(t, "dw", w, dw, loss)
			checkGrad(t, "db", b, db, loss)

			// No bias, and each gradient alone.
			y0 := make([]float64, len(y))
			Linear(s.n, s.in, s.out, x, w, nil, y0)
			if d := maxRelDiff(y0, naiveLinear(s, x, w, make([]float64, s.out))); d > 1e-12 {
				t.Errorf("y without bias differs by %g", d)
			}
			dx2, dw2, db2 := make([]float64, len(x)), make([]float64, len(w)), make([]float64, s.out)
			LinearBackward(s.n, s.in, s.out, x, w, r, dx2, nil, nil)
			LinearBackward(s.n, s.in, s.out, x, w, r, nil, dw2, nil)
			LinearBackward(s.n, s.in, s.out, x, w, r, nil, nil, db2)
			if maxRelDiff(dx2, dx) != 0 || maxRelDiff(dw2, dw) != 0 || maxRelDiff(db2, db) != 0 {
				t.Error("gradients computed one at a time differ")
			}

			y32, dx32, dw32, db32 := linear[float32](s, x, w, b, r)
			compareOutputs(t, []string{"y", "dx", "dw", "db"},
				[][]float64{y32, dx32, dw32, db32}, [][]float64{y, dx, dw, db}, 1e-5)
		})
	}
}

func TestLinearPanics(t *testing.T) {
	x, w, y := make([]float32, 6), make([]float32, 12), make([]float32, 8)
	expectPanic(t, "Linear short b", func() { Linear(2, 3, 4, x, w, y[:3], y) })
	expectPanic(t, "Linear short w", func() { Linear(2, 3, 4, x, w[1:], nil, y) })
	expectPanic(t, "LinearBackward short dw", func() { LinearBackward(2, 3, 4, x, w, y, nil, w[1:], nil) })
}
